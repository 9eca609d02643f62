"""`boomerang-devstack`: run the local stack and the demo (wrapped by the Makefile)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from boomerang.devstack.demo import DEMO_SETTINGS, run_demo
from boomerang.devstack.history import HISTORIES, load_purchases
from boomerang.devstack.kafka_broker import repo_root
from boomerang.devstack.stack import Stack, StackConfig
from boomerang.shared.kafka import ensure_topics

app = typer.Typer(
    pretty_exceptions_enable=False,
    help="Boomerang's local stack: Kafka, the provider sandbox, the four services and the segmenter's query API.",
)
console = Console()


def _stack() -> Stack:
    return Stack(StackConfig())


@app.command()
def up() -> None:
    """Start Kafka, the sandbox, the four services and the segmenter's query API in the background."""
    stack = _stack()
    started = time.monotonic()
    stack.up()
    console.print(f"[green]stack up[/] in {time.monotonic() - started:.1f}s; logs in {stack.root / 'logs'}")
    c = stack.config
    console.print(f"  store {c.store_id!r}, write key {c.write_key!r}: curl -u {c.write_key}: {c.url('ingest')}/v1/track …")
    _print_urls(stack)


@app.command()
def down() -> None:
    """Stop everything `up` started."""
    _stack().down()
    console.print("stack down")


@app.command()
def status() -> None:
    for name, state in _stack().status().items():
        console.print(f"{name:10} {state}")


@app.command()
def topics(bootstrap: str = "localhost:9092", prefix: str = "") -> None:
    """Create the topics of ARCHITECTURE.md on a broker."""
    created = asyncio.run(ensure_topics(bootstrap, prefix))
    console.print(f"created: {', '.join(created) or 'none (all exist)'}")


@app.command()
def demo(
    summary: Path = typer.Option(repo_root() / "build" / "demo-summary.json"),
    keep_running: bool = typer.Option(True, help="leave the stack up to explore"),
    fresh: bool = typer.Option(True, help="start from empty topics and stores"),
    history: str = typer.Option(
        "first300",
        help=f"which CDNOW history to replay: {', '.join(HISTORIES)} (300, 2,357 or 23,570 customers)",
    ),
) -> None:
    """Start the stack (the segmenter on event time), replay the CDNOW shop history three
    times, and summarise."""
    if history not in HISTORIES:
        raise typer.BadParameter(f"one of {', '.join(HISTORIES)}", param_hint="--history")
    stack = Stack(StackConfig(service_settings=DEMO_SETTINGS))
    started = time.monotonic()
    if fresh:
        stack.reset()
    stack.up()
    console.print(f"stack up in {time.monotonic() - started:.1f}s; replaying the {history} history…")
    result = run_demo(stack, summary, load_purchases(HISTORIES[history]))
    result["seconds"] = round(time.monotonic() - started, 1)
    summary.write_text(json.dumps(result, indent=2, default=str))
    _print_summary(result)
    console.print(f"summary written to {summary}")
    if not keep_running:
        stack.down()


def _print_summary(s: dict) -> None:
    table = Table(title="Boomerang demo", show_header=False)
    first = s["replays"]["first"]
    table.add_row("customers / orders replayed", f"{s['history']['customers']} / {s['history']['orders']}")
    table.add_row("events ingested", str(s["events_ingested"]))
    table.add_row("first replay", f"{first['calls']} calls in {first['seconds']:.1f}s")
    table.add_row("segments as of (the history's end)", s["history"]["to"])
    for segment, count in sorted(s["customers_by_segment"].items()):
        table.add_row(f"customers in segment {segment}", str(count))
    for flow, channels in sorted(s["messages_by_flow_and_channel"].items()):
        for channel, count in sorted(channels.items()):
            table.add_row(f"messages sent: {flow} / {channel}", str(count))
    box = s["outbox"]
    table.add_row("messages in sandbox outbox", f"{box['after_first_replay']} (at least {box['expected']}: every receipt)")
    table.add_row("new messages after replaying it twice more", str(s["outbox"]["new_after_replaying_twice_more"]))
    for kind, count in sorted(s["provider_events_fed_back"].items()):
        table.add_row(f"fed back: {kind}", str(count))
    for where, count in s["duplicates_avoided"].items():
        table.add_row(f"duplicates avoided ({where})", str(count))
    console.print(table)
    for name, url in s["where_to_look"].items():
        console.print(f"  {name:18} {url}")


def _print_urls(stack: Stack) -> None:
    from boomerang.devstack.demo import where_to_look

    for name, url in where_to_look(stack).items():
        console.print(f"  {name:18} {url}")


def main() -> None:
    app()

"""`boomerang-bench`: run the benchmarks (`make bench`), each reported against its limit."""

from __future__ import annotations

from collections.abc import Callable

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from boomerang.bench import ingest as ingest_bench
from boomerang.bench import messenger as messenger_bench
from boomerang.bench import segmenter as segmenter_bench

app = typer.Typer(help="Boomerang benchmarks; results in build/bench/*.json.", no_args_is_help=True)
console = Console()


@app.callback()
def _main() -> None:
    """Boomerang benchmarks."""


@app.command()
def ingest(
    events: Annotated[int, typer.Option(help="calls through the raw producer and /v1/batch")] = 20_000,
    batch_size: Annotated[int, typer.Option(help="calls per /v1/batch request")] = 250,
    concurrency: Annotated[int, typer.Option(help="concurrent /v1/batch clients")] = 4,
    rate: Annotated[float, typer.Option(help="/v1/track requests per second")] = 500.0,
    seconds: Annotated[float, typer.Option(help="length of the measured /v1/track run")] = 15.0,
    profile: Annotated[
        bool,
        typer.Option(envvar="BOOMERANG_BENCH_PROFILE", help="py-spy on ingest during one more /v1/batch and /v1/track pass"),
    ] = True,
    out_dir: Annotated[Path | None, typer.Option(help="default: build/bench")] = None,
) -> None:
    """Raw producer vs ingest /v1/batch throughput, /v1/track latency at a fixed rate, peak RSS."""
    options = ingest_bench.Options(
        events=events, batch_size=batch_size, concurrency=concurrency, rate=rate, seconds=seconds, profile=profile,
        **({"out_dir": out_dir} if out_dir else {}),
    )
    report = _run(ingest_bench.run, options)
    console.print(_table(report))
    for name, found in report.get("profile", {}).items():
        _print_profile(found, name)
    console.print(f"written to {options.out_dir / 'ingest.json'}")


@app.command()
def segmenter(
    customers: Annotated[int, typer.Option(help="customers with a history, through the worker")] = 20_000,
    sweep_customers: Annotated[int, typer.Option(help="customers in the due table the sweep scans")] = 1_000_000,
    batch_max_events: Annotated[int, typer.Option(help="the worker's BATCH_MAX_EVENTS")] = 500,
    profile: Annotated[
        bool, typer.Option(envvar="BOOMERANG_BENCH_PROFILE", help="py-spy on the worker during one more, smaller history")
    ] = False,
    out_dir: Annotated[Path | None, typer.Option(help="default: build/bench")] = None,
) -> None:
    """The faust worker's events/s vs a raw consumer, the sweep over 1M customers, memory per 1M."""
    options = segmenter_bench.Options(
        customers=customers, sweep_customers=sweep_customers, batch_max_events=batch_max_events, profile=profile,
        **({"out_dir": out_dir} if out_dir else {}),
    )
    report = _run(segmenter_bench.run, options)
    console.print(_segmenter_table(report))
    _print_profile(report.get("profile"), "segmenter worker", "where the segmenter worker's CPU goes")
    console.print(f"written to {options.out_dir / 'segmenter.json'}")


@app.command()
def messenger(
    orders: Annotated[int, typer.Option(help="receipts through the messenger, and requests through the bare SDK")] = 3000,
    bare_threads: Annotated[int, typer.Option(help="threads of the bare SendGrid SDK client")] = 4,
    latency_rate: Annotated[float, typer.Option(help="orders per second through ingest")] = 200.0,
    latency_seconds: Annotated[float, typer.Option(help="length of the latency run")] = 10.0,
    replicas: Annotated[int, typer.Option(help="messenger processes (one group, one store) in (a') and (d)")] = 2,
    replica_store: Annotated[str, typer.Option(help="the replicas' store: sqlite or postgresql (started for the run)")] = "sqlite",
    reliability_events: Annotated[int, typer.Option(help="orders replayed, each published twice; 0 skips it")] = 10_000,
    kills: Annotated[int, typer.Option(help="SIGKILLs of the messenger during the reliability run")] = 2,
    profile: Annotated[
        bool, typer.Option(envvar="BOOMERANG_BENCH_PROFILE", help="py-spy on the messenger during one more batch of receipts")
    ] = False,
    out_dir: Annotated[Path | None, typer.Option(help="default: build/bench")] = None,
) -> None:
    """Sends/s vs the bare SDK, CPU per send, order-to-receipt latency, exactly once under SIGKILL."""
    options = messenger_bench.Options(
        orders=orders, bare_threads=bare_threads, latency_rate=latency_rate, latency_seconds=latency_seconds,
        replicas=replicas, replica_store=replica_store,
        reliability_events=reliability_events, kills=kills, profile=profile, **({"out_dir": out_dir} if out_dir else {}),
    )
    report = _run(messenger_bench.run, options)
    console.print(_messenger_table(report))
    _print_profile(report.get("profile"), "messenger", "where the messenger's CPU goes")
    console.print(f"written to {options.out_dir / 'messenger.json'}")


def _run(run: Callable[..., dict[str, Any]], options: Any) -> dict[str, Any]:
    """The bench's report; a failed bench says why and exits 1."""
    try:
        return run(options, say=lambda line: console.print(f"[dim]{line}[/dim]"))
    except ingest_bench.BenchFailed as exc:
        console.print(f"[red]benchmark failed:[/red] {exc}")
        raise typer.Exit(1) from None


def _print_profile(found: Any, name: str, title: str | None = None) -> None:
    if isinstance(found, dict) and "by_category" in found:
        console.print(_profile_table(name, found, title))


def _figures_table(name: str, report: dict[str, Any]) -> tuple[Table, dict[str, Any], Callable[[str], str]]:
    """An empty figures table titled for the run, its targets, and how a target's verdict reads."""
    table = Table(title=f"{name} benchmark ({report['machine']['cpu_count']} CPUs, run {report['run_id']})")
    for column in ("figure", "value", "target", ""):
        table.add_column(column)
    targets = report["targets"]

    def verdict(target: str) -> str:
        return "[green]met[/green]" if targets[target]["met"] else "[red]missed[/red]"

    return table, targets, verdict


def _segmenter_table(report: dict[str, Any]) -> Table:
    raw, worker, sweep, memory = report["raw_consumer"], report["worker"], report["sweep"], report["memory"]
    table, targets, verdict = _figures_table("segmenter", report)
    table.add_row("(a) raw aiokafka consumer", f"{raw['events_per_s']:,.0f} events/s", "the limit", "")
    table.add_row("    faust worker (state, scores, publish)", f"{worker['events_per_s']:,.0f} events/s", "", "")
    table.add_row("    ratio", f"{report['ratio_worker_to_raw']:.3f}", targets["throughput_ratio"]["target"],
                  verdict("throughput_ratio"))
    if "raw_decoding_consumer" in report:
        table.add_row("    raw consumer parsing envelopes", f"{report['raw_decoding_consumer']['events_per_s']:,.0f} events/s",
                      f"ratio {report['ratio_worker_to_raw_decoding']:.3f}", "")
    table.add_row("    plain faust agent (reference)", f"{report['plain_faust']['events_per_s']:,.0f} events/s",
                  f"ratio to raw {report['ratio_plain_faust_to_raw']:.3f}", "")
    table.add_row(f"(b) due scan, {sweep['due_table_rows_scanned']:,} customers", f"{sweep['scan_seconds']:.2f} s", "", "")
    table.add_row("    per million customers", f"{sweep['scan_seconds_per_million']:.2f} s",
                  targets["sweep_scan"]["target"], verdict("sweep_scan"))
    table.add_row("    ticks applied", f"{sweep['ticks_applied_per_s']:,.0f} /s", "", "")
    table.add_row("(c) RSS growth per million customers", f"{memory['rss_growth_mb_per_million_customers']:,.0f} MB", "", "")
    table.add_row("    RocksDB on disk per million customers", f"{memory['disk_mb_per_million_customers']:,.0f} MB", "", "")
    return table


def _messenger_table(report: dict[str, Any]) -> Table:
    pipeline, bare, cpu = report["messenger_pipeline"], report["bare_sdk"], report["cpu"]
    latency, reliability = report["latency"], report.get("reliability")
    table, targets, verdict = _figures_table("messenger", report)
    table.add_row(f"(b) bare SendGrid SDK, {bare['threads']} thread(s)", f"{bare['requests_per_s']:,.0f} requests/s",
                  "the limit", "")
    table.add_row("(a) messenger (policy, render, ledger, SDK)", f"{pipeline['sends_per_s']:,.0f} sends/s", "", "")
    table.add_row("    ratio a/b", f"{report['ratio_messenger_to_bare']:.3f}", targets["throughput_ratio"]["target"],
                  verdict("throughput_ratio"))
    if scaled := report.get("scaled_out"):
        table.add_row(f"(a') {scaled['replicas']} messenger replicas", f"{scaled['sends_per_s']:,.0f} sends/s", "", "")
        table.add_row("    ratio a'/b", f"{report['ratio_replicas_to_bare']:.3f}", "", "")
    table.add_row("(c) messenger CPU per send", f"{cpu['messenger_cpu_ms_per_send']:.2f} ms", "", "")
    table.add_row("    one core for both processes", f"{cpu['single_core_sends_per_s']:,.0f} sends/s", "", "")
    table.add_row(f"    an instance: a core each (event loop {cpu['event_loop_process_ms_per_send']:.2f} ms, SDK "
                  f"process {cpu['sdk_process_ms_per_send']:.2f} ms)", f"{cpu['two_core_sends_per_s']:,.0f} sends/s",
                  targets["instance_sends"]["target"], verdict("instance_sends"))
    if own := cpu.get("own_work"):
        table.add_row("(g) of which the messenger's own work", f"{own['cpu_ms_per_order']:.2f} ms", "", "")
    table.add_row(f"(d) order -> receipt p50 at {latency['rate_per_s']:g}/s, {latency.get('messenger_replicas', 1)} replica(s)", f"{latency['p50_ms']:.0f} ms",
                  targets["latency_p50"]["target"], verdict("latency_p50"))
    table.add_row("    p99", f"{latency['p99_ms']:.0f} ms", targets["latency_p99"]["target"], verdict("latency_p99"))
    if "cores_busy" in latency:
        table.add_row("    cores the stack kept busy (of the machine's)", f"{latency['cores_busy']:.2f}", "", "")
    if reliability is None:
        return table
    table.add_row(f"(e) {reliability['triggering_events']:,} orders x2, {len(reliability['kills'])} SIGKILLs: duplicates",
                  f"{reliability['duplicates']:,}", targets["duplicates"]["target"], verdict("duplicates"))
    table.add_row(f"    lost (of {reliability['expected_messages']:,} expected)", f"{reliability['lost']:,}",
                  targets["lost"]["target"], verdict("lost"))
    return table


def _table(report: dict[str, Any]) -> Table:
    raw, batch, track = report["raw_producer"], report["ingest_batch"], report["track_latency"]
    table, targets, verdict = _figures_table("ingest", report)
    table.add_row("(a) raw aiokafka producer", f"{raw['events_per_s']:,.0f} events/s", "the limit", "")
    table.add_row("(b) ingest /v1/batch", f"{batch['events_per_s']:,.0f} events/s", "", "")
    table.add_row("    ratio b/a", f"{report['ratio_batch_to_raw']:.2f}", targets["throughput_ratio"]["target"],
                  verdict("throughput_ratio"))
    table.add_row(f"(c) /v1/track p50 at {track['rate_per_s']:g}/s", f"{track['p50_ms']:.1f} ms", "", "")
    table.add_row("    p99", f"{track['p99_ms']:.1f} ms", targets["track_p99"]["target"], verdict("track_p99"))
    table.add_row("    max", f"{track['max_ms']:.1f} ms", "", "")
    table.add_row("(d) ingest peak RSS", f"{report['ingest_process']['peak_rss_mb']:.0f} MB",
                  targets["peak_rss"]["target"], verdict("peak_rss"))
    return table


def _profile_table(name: str, found: dict[str, Any], title: str | None = None) -> Table:
    title = title or f"where ingest's CPU goes under /v1/{name}"
    table = Table(title=f"{title} ({found['samples']} py-spy samples)")
    table.add_column("category")
    table.add_column("%", justify="right")
    for row in found["by_category"]:
        table.add_row(row["what"], f"{row['percent']:.1f}")
    return table


def main() -> None:
    app()

"""`make demo`: replay a real shop's history through the running stack and say what happened.

The history is CDNOW's, 1997-01-01 to 1998-06-30. The segmenter runs on event time for it
(`DEMO_SETTINGS`): its `now` is the latest order time it has read, so the sweep moves
customers as 1997-98 moved them and stops at the history's end, and the segment sizes in the
summary are those of the shop on 30 June 1998; on the wall clock every one of them would have
lapsed decades ago. The messages the replay triggers are still sent now.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from boomerang.devstack.history import Purchase, load_purchases, phone_for, replay_calls
from boomerang.devstack.stack import Stack, console_script
from boomerang.shared.events import Envelope
from boomerang.shared.kafka import FEEDBACK_EVENTS, TopicSpec

BATCH_SIZE = 200
HERE = Path(__file__).parent
# The services as the demo runs them. The segmenter: event time (adapters/clocks.py in the
# segmenter), a sweep every second and a model refit every 5 s, so the sizes settle within
# seconds of the replay.
DEMO_SETTINGS = {
    "segmenter": {
        "BOOMERANG_SEGMENTER_CLOCK": "event-time",
        "BOOMERANG_SEGMENTER_SWEEP_INTERVAL_S": "1",
        "BOOMERANG_SEGMENTER_MODEL_FIT_INTERVAL_S": "5",
    },
    # The messenger on event time too (boomerang.shared.clocks): a win-back's reminder five
    # days later, a feedback request a week after the order, a birthday at 09:00 go out when
    # the replay reaches that time, under caps and windows counted in the history's time.
    # The scheduler and the calendar are read often: a replayed day passes in a fraction of
    # a second. The demo store's own flow files (flows/demo/: guides per music genre for the
    # nurture series), next to this module so an installed package finds them too.
    "messenger": {
        "BOOMERANG_MESSENGER_CLOCK": "event-time",
        "BOOMERANG_MESSENGER_SCHEDULER_INTERVAL_SECONDS": "0.2",
        "BOOMERANG_MESSENGER_DATE_SWEEP_INTERVAL_SECONDS": "0.2",
        "BOOMERANG_MESSENGER_FLOWS_DIR": str(HERE / "flows"),
    },
}
CAMPAIGN = "summer-1998"


@dataclass
class ReplayResult:
    calls: int
    accepted: int
    deduplicated: int
    rejected: int
    seconds: float

    def as_dict(self) -> dict:
        return self.__dict__ | {"events_per_second": round(self.calls / self.seconds, 1) if self.seconds else None}


def replay(stack: Stack, calls: list[dict]) -> ReplayResult:
    """Send the history to ingest in Segment batches, as a shop's backend would: a batch
    refused for the store's rate (429) is sent again after the Retry-After ingest asks for."""
    c = stack.config
    accepted = deduplicated = rejected = 0
    started = time.monotonic()
    with httpx.Client(base_url=c.url("ingest"), auth=(c.write_key, ""), timeout=30) as client:
        for i in range(0, len(calls), BATCH_SIZE):
            response = client.post("/v1/batch", json={"batch": calls[i : i + BATCH_SIZE]})
            while response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After", "1")))
                response = client.post("/v1/batch", json={"batch": calls[i : i + BATCH_SIZE]})
            response.raise_for_status()
            body = response.json()
            accepted += body.get("accepted", 0)
            deduplicated += body.get("deduplicated", 0)
            rejected += len(body.get("rejected", []))
    return ReplayResult(len(calls), accepted, deduplicated, rejected, time.monotonic() - started)


def outbox(stack: Stack) -> list[dict]:
    return httpx.get(f"{stack.config.url('sandbox')}/outbox.json", timeout=30).json()["messages"]


def wait_for_outbox(stack: Stack, expected: int, timeout: float = 300) -> int:
    """Wait until the sandbox holds `expected` messages and nothing more arrives for a moment."""
    deadline, last, stable_since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(outbox(stack))
        if count != last:
            last, stable_since = count, time.monotonic()
        elif count >= expected and time.monotonic() - stable_since > 3:
            return count
        time.sleep(0.5)
    return last


async def read_topic(bootstrap: str, spec: TopicSpec, prefix: str) -> list[Envelope]:
    """Every envelope on a topic, from the beginning up to its end now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        topic = spec.named(prefix)
        partitions = [TopicPartition(topic, p) for p in range(spec.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        envelopes: list[Envelope] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                envelopes += [Envelope.from_bytes(record.value) for record in records]
        return envelopes
    finally:
        await consumer.stop()


def segment_sizes(stack: Stack, as_of: datetime | None = None) -> dict | None:
    """The query API's `/v1/segments/{store}` (movement windows ending at `as_of`); None while
    it does not answer."""
    c = stack.config
    params = {"now": as_of.isoformat()} if as_of is not None else {}
    try:
        response = httpx.get(f"{c.url('segmenter-api')}/v1/segments/{c.store_id}", params=params, timeout=10)
        return response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def wait_for_segments(
    stack: Stack, customers: int, as_of: datetime | None = None, settle: float = 4.0, timeout: float = 180
) -> dict:
    """Segment sizes once every customer is in the snapshot store and nothing has moved for
    `settle` seconds: the last events applied, swept to the end of the history, re-scored."""
    deadline, last, since, sizes = time.monotonic() + timeout, None, time.monotonic(), None
    while time.monotonic() < deadline:
        sizes = segment_sizes(stack, as_of)
        seen = None if sizes is None else (sizes["customers"], sizes["lifecycle"], sizes["value"])
        if seen != last:
            last, since = seen, time.monotonic()
        elif sizes is not None and sizes["customers"] >= customers and time.monotonic() - since >= settle:
            return sizes
        time.sleep(0.5)
    return sizes or {}


def messenger_stats(stack: Stack) -> dict:
    try:
        return httpx.get(f"{stack.config.url('messenger')}/v1/stats", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return {}


def by_flow_and_channel(stats: dict) -> dict[str, dict[str, int]]:
    """{"receipt": {"email sent": 1046, "sms sent": 420}, "win_back": {"email suppressed (holdout)": 19}}
    from the messenger's ledger stats: sends, and suppressions and delays by reason."""
    table: dict[str, dict[str, int]] = {}
    for row in stats.get("messages", []):
        reason = f" ({row['reason']})" if row.get("reason") else ""
        table.setdefault(row["flow"], {})[f"{row['channel']} {row['status']}{reason}"] = row["count"]
    return table


def wait_for_ledger_duplicates(stack: Stack, expected: int, timeout: float = 120) -> int:
    deadline, seen = time.monotonic() + timeout, 0
    while time.monotonic() < deadline and seen < expected:
        seen = messenger_stats(stack).get("duplicates_avoided", 0)
        time.sleep(0.5)
    return seen


def broadcast(stack: Stack, at: datetime, timeout: float = 60) -> dict:
    """The operator's campaign to the active, reactivated and VIP customers, through the
    messenger's `broadcast` command, at the replay's last moment; waits until it has settled."""
    command = [
        *(console_script("boomerang-messenger"), "broadcast", "--store", stack.config.store_id, "--campaign", CAMPAIGN),
        *("--content", str(HERE / "demo_campaign.yaml"), "--at", at.isoformat()),
    ]
    done = subprocess.run(command, env=stack.env("messenger"), capture_output=True, text=True, check=True)
    deadline = time.monotonic() + timeout
    settled: dict[str, int] = {}
    while time.monotonic() < deadline:
        settled = by_flow_and_channel(messenger_stats(stack)).get("broadcast", {})
        if settled and not any(outcome.split(" ")[1] in ("delayed", "pending") for outcome in settled):
            break
        time.sleep(0.5)
    return {"campaign": CAMPAIGN, "said": done.stdout.strip(), "outcomes": settled}


def reimported(calls: list[dict]) -> list[dict]:
    """The same history re-sent with fresh messageIds, as a shop re-importing its orders would."""
    return [{**call, "messageId": f"{call['messageId']}-reimport"} for call in calls]


def run_demo(stack: Stack, summary_path: Path, purchases: list[Purchase] | None = None) -> dict:
    """Replay once; again unchanged (ingest drops the repeats); again re-imported (the ledger does)."""
    purchases = purchases if purchases is not None else load_purchases()
    calls = replay_calls(purchases)
    # The receipts: one email per order, an SMS too for those with a phone. The synthetic
    # checkouts and views send nothing at once (a reminder, a nurture step comes later, or not).
    expected = len(purchases) + sum(1 for p in purchases if phone_for(p.customer))
    before = len(outbox(stack))

    first = replay(stack, calls)
    after_first = wait_for_outbox(stack, before + expected)
    second = replay(stack, calls)
    third = replay(stack, reimported(calls))
    ledger_duplicates = wait_for_ledger_duplicates(stack, expected)
    after_replays = wait_for_outbox(stack, after_first, timeout=30)

    messages = outbox(stack)
    customers = len({p.customer for p in purchases})
    history_end = max(p.day for p in purchases).replace(hour=23, minute=59, second=59)
    sizes = wait_for_segments(stack, customers, as_of=history_end)
    campaign = broadcast(stack, at=max(p.day for p in purchases))
    feedback = asyncio.run(read_topic(stack.bootstrap, FEEDBACK_EVENTS, stack.config.topic_prefix))
    stats = messenger_stats(stack)
    summary = {
        "store": stack.config.store_id,
        "history": {
            "customers": customers,
            "orders": len(purchases),
            "from": min(p.day for p in purchases).date().isoformat(),
            "to": history_end.date().isoformat(),
        },
        "events_ingested": first.accepted + third.accepted,
        "replays": {"first": first.as_dict(), "same_again": second.as_dict(), "reimported": third.as_dict()},
        # From the segmenter's query API: lifecycle stages (one each) and value tiers (one each).
        "customers_by_segment": {**sizes.get("lifecycle", {}), **sizes.get("value", {})},
        "segments": {key: sizes.get(key) for key in ("customers", "lifecycle", "value", "movement", "as_of")},
        "broadcast": campaign,
        "messages_by_flow_and_channel": by_flow_and_channel(stats),
        "outbox": {
            "expected": expected,
            "after_first_replay": after_first - before,
            "new_after_replaying_twice_more": after_replays - after_first,
            "by_provider": dict(Counter(m["provider"] for m in messages)),
        },
        "provider_events_fed_back": dict(Counter(f"{e.data['provider']} {e.data['kind']}" for e in feedback)),
        "duplicates_avoided": {
            "ingest_same_message_id": first.deduplicated + second.deduplicated + third.deduplicated,
            "messenger_send_ledger": ledger_duplicates,
        },
        "where_to_look": where_to_look(stack),
    }
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(summary, indent=2, default=str))
    return summary


def where_to_look(stack: Stack) -> dict[str, str]:
    c = stack.config
    links = {f"{name}_metrics": f"{c.url(name)}/metrics" for name in ("ingest", "segmenter", "messenger", "feedback")}
    return links | {
        "sandbox_outbox": f"{c.url('sandbox')}/outbox",
        "messenger_stats": f"{c.url('messenger')}/v1/stats",
        "segments": f"{c.url('segmenter-api')}/v1/segments/{c.store_id}",
        "customer": f"{c.url('segmenter-api')}/v1/customers/{c.store_id}/cdnow-00004",
        "scores": f"{c.url('segmenter-api')}/v1/scores/{c.store_id}",
        "segmenter_api_docs": f"{c.url('segmenter-api')}/docs",
        "logs": str(stack.root / "logs"),
    }

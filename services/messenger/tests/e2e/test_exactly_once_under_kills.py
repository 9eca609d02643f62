"""Every event delivered twice and the messenger SIGKILLed twice mid-run: each idempotency key
reaches the provider at most once, and every message owed is there (the issue's reliability
test at a size that fits `make test`; `make bench-messenger` runs it with 10,000 orders)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from boomerang.devstack.waiting import wait_until_ready
from boomerang.messenger.domain.messages import idempotency_key, message_id_for
from boomerang.shared.events import CustomerIdentified, Envelope, OrderLine, OrderPlaced
from boomerang.shared.events.attribution import MESSAGE_ID
from boomerang.shared.kafka import COMMERCE_EVENTS

pytestmark = pytest.mark.e2e
ORDERS = 600
KILLS = 2
STORE = "s1"
# Recent: the feedback request a week after an order long past is suppressed as too late.
NOW = datetime.now(UTC).replace(microsecond=0)


def history() -> list[Envelope]:
    """Every customer has a phone; the even ones agreed to texts."""
    contacts, orders = [], []
    for n in range(ORDERS):
        contact = CustomerIdentified(
            email=f"shopper{n}@example.com", phone=f"+1415555{n:04d}", sms_marketing_consent=n % 2 == 0
        )
        placed = OrderPlaced(
            order_id=f"o-{n}",
            placed_at=NOW,
            total=Decimal("30.00"),
            lines=[OrderLine(product_id="p1", name="Tea", quantity=3, unit_price=Decimal("10.00"))],
        )
        wrap = dict(store_id=STORE, customer_id=f"c{n}", source="e2e", time=NOW)
        contacts.append(Envelope.wrap(contact, **wrap, id=f"id-{n}"))
        orders.append(Envelope.wrap(placed, **wrap, id=f"ev-{n}"))
    return contacts + orders


def owed() -> set[str]:
    """The message ids the receipt flow owes: an email per order, an SMS per consenting customer."""
    steps = {n: ("email", "sms") if n % 2 == 0 else ("email",) for n in range(ORDERS)}
    return {
        message_id_for(idempotency_key(STORE, f"c{n}", "receipt", step, f"o-{n}"))
        for n, names in steps.items()
        for step in names
    }


def provider_calls(outbox: Path) -> Counter[str]:
    """Message ids the sandbox received, one count per provider call: SendGrid's custom_args, or
    the query of a Twilio message's StatusCallback."""
    calls: Counter[str] = Counter()
    for line in outbox.read_text(encoding="utf-8").splitlines():
        message = json.loads(line)
        args = message["custom_args"] or dict(parse_qsl(urlsplit(message["status_callback"] or "").query))
        calls[args.get(MESSAGE_ID, "(no id)")] += 1
    return calls


async def test_redelivered_events_and_two_sigkills_give_each_message_exactly_once(
    kafka_bootstrap, topic_prefix, sandbox_outbox, messenger_process, send_commerce
) -> None:
    sandbox, outbox = sandbox_outbox
    # The SMS's ids ride in the StatusCallback's query; /healthz answers the sandbox's status
    # posts 405 at once, and the sandbox does not retry a 4xx.
    messenger_process.env["BOOMERANG_MESSENGER_TWILIO_STATUS_CALLBACK_URL"] = f"{sandbox}/healthz"
    url = messenger_process.url
    events = history()
    await send_commerce(events + events)  # every event delivered twice
    settled_target = 2 * ORDERS  # every email and SMS step sent or suppressed (no consent)

    messenger = messenger_process.start()
    settled_at_kills = []
    try:
        for k in range(1, KILLS + 1):
            _wait(lambda k=k: _settled(url) >= settled_target * k // (KILLS + 1), messenger, 90)
            settled_at_kills.append(_settled(url))
            messenger.kill()
            messenger.stop()
            messenger = messenger_process.start()
        wait_until_ready(f"{url}/readyz", timeout=60)
        _wait(lambda: _settled(url) >= settled_target, messenger, 120)
        await _until_consumed(kafka_bootstrap, f"{topic_prefix}messenger", COMMERCE_EVENTS.named(topic_prefix))
        totals = httpx.get(f"{url}/v1/stats", timeout=5).json()["totals"]
    finally:
        messenger.stop()

    assert settled_at_kills[-1] < settled_target, "the kills came after all the work: nothing was tested"
    calls = provider_calls(outbox)
    assert {mid: n for mid, n in calls.items() if n > 1} == {}  # no key reached the provider twice
    assert set(calls) == owed()  # none lost, nothing unasked for
    # delayed: each order's feedback request, due in 7 days (sent by the scheduler then).
    assert totals == {"sent": ORDERS + ORDERS // 2, "suppressed": ORDERS // 2, "delayed": ORDERS}


def _settled(url: str) -> int:
    try:
        totals = httpx.get(f"{url}/v1/stats", timeout=5).json()["totals"]
    except httpx.HTTPError:  # restarting: not listening yet
        return 0
    return sum(totals.get(state, 0) for state in ("sent", "failed", "suppressed"))


def _wait(done: Callable[[], bool], messenger: Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert messenger.alive(), "the messenger exited"
        assert time.monotonic() < deadline, "the messenger stopped making progress"
        time.sleep(0.1)


async def _until_consumed(bootstrap: str, group: str, topic: str, timeout: float = 60) -> None:
    """The group's committed offsets reach the topic's end: the second copies were read too."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            offsets = await admin.list_consumer_group_offsets(group)
            committed = {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}
            ends = await _end_offsets(bootstrap, topic)
            if all(committed.get(p, 0) >= end for p, end in ends.items()):
                return
            assert time.monotonic() < deadline, f"not consumed: committed {committed}, ends {ends}"
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return {tp.partition: end for tp, end in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()

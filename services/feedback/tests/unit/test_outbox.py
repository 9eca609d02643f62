"""The outbox with hand-written fakes: what gets published, when, and what happens when Kafka fails."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from boomerang.feedback.domain.model import ProviderEvent, StoredEvent
from boomerang.feedback.domain.errors import KafkaUnavailable
from boomerang.feedback.service_layer.intake import take_in, take_in_acked
from boomerang.feedback.service_layer.outbox import OutboxRelay
from boomerang.feedback.service_layer.ports import Backlog
from boomerang.shared.events import Envelope
from boomerang.shared.kafka import PublishFailed

NOW = datetime(2025, 10, 9, 12, 0, tzinfo=UTC)


class FakeStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], StoredEvent] = {}

    def add_new(self, events: Sequence[ProviderEvent]) -> list[StoredEvent]:
        new = []
        for event in events:
            key = (event.provider, event.provider_event_id)
            if key not in self.rows:
                self.rows[key] = StoredEvent(len(self.rows) + 1, event)
                new.append(self.rows[key])
        return new

    def unpublished(self, limit: int, among: Collection[int] | None = None) -> list[StoredEvent]:
        rows = [r for r in self.rows.values() if r.published_at is None and (among is None or r.id in among)]
        return sorted(rows, key=lambda r: r.id)[:limit]

    def mark_published(self, ids: Collection[int], at: datetime) -> None:
        for key, row in self.rows.items():
            if row.id in ids and row.published_at is None:
                self.rows[key] = StoredEvent(row.id, row.event, at)

    def find(self, provider: str, provider_event_id: str) -> StoredEvent | None:
        return self.rows.get((provider, provider_event_id))

    def backlog(self) -> Backlog:
        pending = [r for r in self.rows.values() if r.published_at is None]
        return Backlog(len(pending), min((r.event.received_at for r in pending), default=None))


class FakeBus:
    def __init__(self, *, up: bool = True) -> None:
        self.up = up
        self.connected = up
        self.published: list[Envelope] = []

    async def connect(self) -> None:
        if not self.up:
            raise PublishFailed("down")
        self.connected = True

    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        if not self.up:
            raise PublishFailed("down")
        self.published.extend(envelopes)


def events(*ids: str) -> list[ProviderEvent]:
    raw = {
        "event": "open",
        "timestamp": 1_760_000_000,
        "boomerang_store_id": "s",
        "boomerang_customer_id": "c",
    }
    return [ProviderEvent("sendgrid", i, "open", {**raw, "sg_event_id": i}, NOW) for i in ids]


def relay_for(store: FakeStore, bus: FakeBus, batch_size: int = 500) -> OutboxRelay:
    return OutboxRelay(store, bus, clock=lambda: NOW + timedelta(seconds=1), batch_size=batch_size)


async def test_new_events_are_stored_and_published_in_the_request():
    store, bus = FakeStore(), FakeBus()
    intake = await take_in(events("a", "b"), store, relay_for(store, bus), publish_timeout_s=1)
    assert (intake.stored, intake.duplicates, intake.published) == (2, 0, True)
    assert [e.event().provider_event_id for e in bus.published] == ["a", "b"]
    assert store.backlog().unpublished == 0


async def test_a_retried_batch_is_acknowledged_but_neither_stored_nor_published_again():
    store, bus = FakeStore(), FakeBus()
    relay = relay_for(store, bus)
    await take_in(events("a", "b"), store, relay, publish_timeout_s=1)
    intake = await take_in(events("a", "b", "c"), store, relay, publish_timeout_s=1)
    assert (intake.received, intake.stored, intake.duplicates) == (3, 1, 2)
    assert [e.event().provider_event_id for e in bus.published] == ["a", "b", "c"]


async def test_with_kafka_down_events_are_still_accepted_and_the_relay_publishes_them_later():
    store, bus = FakeStore(), FakeBus(up=False)
    relay = relay_for(store, bus)
    intake = await take_in(events("a", "b"), store, relay, publish_timeout_s=1)
    assert (intake.stored, intake.published) == (2, False)
    assert store.backlog().unpublished == 2 and not bus.published

    bus.up = True
    await bus.connect()
    assert await relay.drain() == 2
    assert [e.event().provider_event_id for e in bus.published] == ["a", "b"]
    assert store.backlog().unpublished == 0
    assert await relay.drain() == 0


async def test_the_request_publishes_only_its_own_events():
    store, bus = FakeStore(), FakeBus(up=False)
    relay = relay_for(store, bus)
    await take_in(events("old"), store, relay, publish_timeout_s=1)
    bus.up = bus.connected = True
    await take_in(events("new"), store, relay, publish_timeout_s=1)
    assert [e.event().provider_event_id for e in bus.published] == ["new"]
    assert [r.event.provider_event_id for r in store.unpublished(10)] == ["old"]


async def test_the_relay_drains_in_batches_in_order():
    store, bus = FakeStore(), FakeBus(up=False)
    store.add_new(events(*[f"e{i}" for i in range(7)]))
    bus.up = bus.connected = True
    assert await relay_for(store, bus, batch_size=3).drain() == 7
    assert [e.event().provider_event_id for e in bus.published] == [f"e{i}" for i in range(7)]


async def test_the_relay_loop_keeps_trying_until_kafka_is_back():
    store, bus = FakeStore(), FakeBus(up=False)
    store.add_new(events("a", "b"))
    relay = relay_for(store, bus)
    stop = asyncio.Event()
    loop = asyncio.create_task(relay.run(stop, interval_s=0.01, max_backoff_s=0.02))
    await asyncio.sleep(0.1)
    assert not bus.published and store.backlog().unpublished == 2

    bus.up = True
    for _ in range(100):
        if store.backlog().unpublished == 0:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(loop, 1)
    assert [e.event().provider_event_id for e in bus.published] == ["a", "b"]
    assert bus.connected


async def test_a_link_action_waits_for_kafka_and_a_retry_publishes_what_was_kept():
    store, bus = FakeStore(), FakeBus(up=False)
    relay = relay_for(store, bus)
    [event] = events("unsub")
    with pytest.raises(KafkaUnavailable) as refused:
        await take_in_acked(event, store, relay, publish_timeout_s=1)
    assert refused.value.status_code == 503 and refused.value.headers()["Retry-After"]
    assert store.backlog().unpublished == 1  # kept: the relay would publish it on its own

    bus.up = bus.connected = True
    assert await take_in_acked(event, store, relay, publish_timeout_s=1) is False  # the retry
    assert [e.event().provider_event_id for e in bus.published] == ["unsub"]
    assert await take_in_acked(event, store, relay, publish_timeout_s=1) is False
    assert len(bus.published) == 1

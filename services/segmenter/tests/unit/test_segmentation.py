"""The segmentation use case with hand-written fakes for the table and the topics."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from boomerang.segmenter.adapters.policy_files import default_policy
from boomerang.segmenter.domain import CustomerState, SegmentPolicy
from boomerang.segmenter.service_layer.ports import SourceRecord
from boomerang.segmenter.service_layer.segmentation import Segmentation, segment_changed_id, segment_elapsed_id
from boomerang.shared.events import Envelope, SegmentChanged


class FakeStates:
    def __init__(self, journal: list[str]) -> None:
        self.rows: dict[str, CustomerState] = {}
        self.journal = journal

    def get(self, key: str) -> CustomerState | None:
        return self.rows.get(key)

    def put(self, key: str, state: CustomerState) -> None:
        self.journal.append(f"put {key}")
        self.rows[key] = state


class FakeDue:
    def __init__(self, journal: list[str]) -> None:
        self.rows: dict[str, datetime] = {}
        self.journal = journal

    def put(self, key: str, due_at: datetime | None) -> None:
        self.journal.append(f"due {key}")
        if due_at is None:
            self.rows.pop(key, None)
        else:
            self.rows[key] = due_at


class FakeTopics:
    def __init__(self, journal: list[str], failures: int = 0) -> None:
        self.published: list[Envelope] = []
        self.dead: list[tuple[SourceRecord, str, str]] = []
        self.journal = journal
        self.failures = failures

    async def publish(self, envelopes: list[Envelope]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker went away")
        self.journal.append(f"publish {len(envelopes)}")
        self.published += envelopes

    async def dead_letter(self, record: SourceRecord, reason: str, error: str) -> None:
        self.dead.append((record, reason, error))


class Harness:
    def __init__(self, t0, failures: int = 0) -> None:
        self.journal: list[str] = []
        self.states = FakeStates(self.journal)
        self.due = FakeDue(self.journal)
        self.topics = FakeTopics(self.journal, failures)
        self.pauses: list[float] = []
        self.offset = 0

        async def sleep(seconds: float) -> None:
            self.pauses.append(seconds)

        self.segmentation = Segmentation(
            states=self.states,
            events=self.topics,
            policy=SegmentPolicy(),
            lifecycle_policies=lambda store_id: default_policy(),
            due=self.due,
            clock=lambda: t0,
            sleep=sleep,
            snapshots=self,
        )
        self.snapshots: list = []

    def record(self, snapshot, transitions) -> None:
        self.journal.append(f"snapshot {snapshot.store_id}:{snapshot.customer_id}")
        self.snapshots.append((snapshot, list(transitions)))

    async def deliver(self, value: bytes | None, key: bytes | None = None):
        self.offset += 1
        return await self.segmentation.handle(SourceRecord("commerce.events.v1", 2, self.offset, key, value))

    async def send(self, env: Envelope):
        return await self.deliver(env.to_bytes(), env.key.encode())

    def changes(self) -> list[SegmentChanged]:
        return [e.event() for e in self.topics.published]


@pytest.fixture
def harness(envelopes) -> Harness:
    return Harness(envelopes.t0)


async def test_transitions_are_published_as_segment_changed(harness, envelopes):
    await harness.send(envelopes.order("200"))
    await harness.send(envelopes.order("300", placed_at=envelopes.t0 + timedelta(days=1)))
    new, vip = harness.changes()
    assert (new.from_segment, new.to_segment, new.orders, new.revenue) == (None, "new", 1, Decimal(200))
    assert (vip.from_segment, vip.to_segment, vip.orders, vip.revenue) == (None, "vip", 2, Decimal(500))
    assert vip.changed_at == envelopes.t0 + timedelta(days=1)
    envelope = harness.topics.published[1]
    assert (envelope.key, envelope.source) == ("store-1:cust-1", "boomerang-segmenter")
    assert envelope.type == SegmentChanged.event_type


async def test_published_before_the_state_is_saved(harness, envelopes):
    await harness.send(envelopes.order("700"))
    assert harness.journal == ["publish 2", "put store-1:cust-1", "due store-1:cust-1", "snapshot store-1:cust-1"]


async def test_every_save_records_a_snapshot_and_its_transitions_by_envelope_id(harness, envelopes):
    order = envelopes.order("700")
    await harness.send(order)
    await harness.send(order)  # a duplicate: nothing new, nothing recorded
    [(snapshot, transitions)] = harness.snapshots
    assert (snapshot.lifecycle, snapshot.value_tier, snapshot.profile["orders"]) == ("new", "vip", 1)
    assert snapshot.updated_at == envelopes.t0 and snapshot.scores is None
    assert [t.id for t in transitions] == [e.id for e in harness.topics.published]
    assert [(t.dimension, t.to_segment) for t in transitions] == [("lifecycle", "new"), ("value", "vip")]


async def test_change_ids_are_deterministic(envelopes):
    env = envelopes.order("700", id="evt-9")
    first, second = Harness(envelopes.t0), Harness(envelopes.t0 + timedelta(days=1))
    await first.send(env)
    await second.send(env)  # a re-emission after a crash: same input, another worker, another clock
    ids = [e.id for e in first.topics.published]
    assert ids == [e.id for e in second.topics.published]
    assert ids == [segment_changed_id("store-1:cust-1", segment, "evt-9") for segment in ("new", "vip")]
    assert len(set(ids)) == 2
    assert all(uuid.UUID(i).version == 5 for i in ids)


def test_change_ids_differ_by_customer_segment_and_trigger():
    ids = {
        segment_changed_id("s:c", "vip", "e1"),
        segment_changed_id("s:c2", "vip", "e1"),
        segment_changed_id("s:c", "new", "e1"),
        segment_changed_id("s:c", "vip", "e2"),
    }
    assert len(ids) == 4


async def test_duplicate_publishes_nothing_but_saves_the_state_again(harness, envelopes):
    env = envelopes.order("700")
    await harness.send(env)
    harness.journal.clear()
    assert await harness.send(env) == []
    assert harness.journal == ["put store-1:cust-1"]
    assert len(harness.topics.published) == 2
    assert harness.states.rows["store-1:cust-1"].orders == 1


async def test_unparseable_message_is_dead_lettered_unchanged(harness):
    assert await harness.deliver(b"{not json", b"store-1:cust-1") == []
    [(record, reason, error)] = harness.topics.dead
    assert (record.value, record.key, record.partition, reason) == (b"{not json", b"store-1:cust-1", 2, "unparseable")
    assert "unparseable envelope" in error
    assert harness.states.rows == {} and harness.topics.published == []


async def test_empty_message_is_dead_lettered(harness):
    await harness.deliver(None)
    assert [reason for _, reason, _ in harness.topics.dead] == ["unparseable"]


async def test_unknown_event_type_is_dead_lettered(harness, envelopes):
    odd = envelopes.page_view().model_copy(update={"type": "commerce.order.teleported"})
    await harness.send(odd)
    [(_, reason, error)] = harness.topics.dead
    assert reason == "invalid_event" and "commerce.order.teleported" in error


async def test_message_keyed_for_another_customer_is_dead_lettered(harness, envelopes):
    env = envelopes.order("10")
    await harness.deliver(env.to_bytes(), b"store-1:someone-else")
    assert [reason for _, reason, _ in harness.topics.dead] == ["key_mismatch"]
    assert harness.states.rows == {}


async def test_good_messages_after_a_poison_one_are_processed(harness, envelopes):
    await harness.deliver(b"\xff\xfe garbage")
    await harness.send(envelopes.order("10"))
    assert [c.to_segment for c in harness.changes()] == ["new"]


async def test_publish_failures_are_retried_with_backoff(envelopes):
    harness = Harness(envelopes.t0, failures=3)
    await harness.send(envelopes.order("10"))
    assert [c.to_segment for c in harness.changes()] == ["new"]
    assert harness.pauses == [0.1, 0.2, 0.4]
    assert harness.journal == ["publish 1", "put store-1:cust-1", "due store-1:cust-1", "snapshot store-1:cust-1"]


async def test_the_due_time_is_stored_with_the_state(harness, envelopes):
    await harness.send(envelopes.order("10"))
    # the default policy: new for 30 days after the first order
    assert harness.due.rows == {"store-1:cust-1": envelopes.t0 + timedelta(days=30)}
    assert harness.states.rows["store-1:cust-1"].segments == {"lifecycle": "new"}


async def test_a_page_view_makes_a_prospect_with_nothing_due(harness, envelopes):
    await harness.send(envelopes.page_view())
    assert [(c.from_segment, c.to_segment, c.dimension) for c in harness.changes()] == [(None, "prospect", "lifecycle")]
    assert harness.due.rows == {}


async def test_the_sweep_lapses_a_quiet_customer_once(harness, envelopes):
    key = "store-1:cust-1"
    await harness.send(envelopes.order("10"))
    later = envelopes.t0 + timedelta(days=400)
    swept = await harness.segmentation.sweep(key, later)
    assert [(t.from_segment, t.to_segment, t.changed_at - envelopes.t0) for t in swept] == [
        ("new", "active", timedelta(days=30)),
        ("active", "at_risk", timedelta(days=60)),
        ("at_risk", "lapsed", timedelta(days=180)),
    ]
    published = harness.topics.published[1:]
    assert [e.id for e in published] == [
        segment_elapsed_id(key, "lifecycle", t.to_segment, t.changed_at) for t in swept
    ]
    assert harness.due.rows == {}  # lapsed: nothing more happens with no event
    # the same tick again, or an older one: nothing
    assert await harness.segmentation.sweep(key, later) == []
    assert await harness.segmentation.sweep(key, later - timedelta(days=1)) == []
    assert len(harness.topics.published) == 4


async def test_time_driven_changes_have_the_same_ids_whether_an_event_or_the_sweep_finds_them(envelopes):
    key = "store-1:cust-1"
    by_event, by_sweep = Harness(envelopes.t0), Harness(envelopes.t0)
    first = envelopes.order("10", id="o1")
    second = envelopes.order("10", placed_at=envelopes.t0 + timedelta(days=45), id="o2")
    for h in (by_event, by_sweep):
        await h.send(first)
    await by_sweep.segmentation.sweep(key, envelopes.t0 + timedelta(days=45))
    for h in (by_event, by_sweep):
        await h.send(second)
    ids = lambda h: [e.id for e in h.topics.published]  # noqa: E731
    assert ids(by_event) == ids(by_sweep)
    assert [c.to_segment for c in by_event.changes()] == ["new", "active"]


async def test_a_late_sweep_after_a_newer_event_changes_nothing(harness, envelopes):
    key = "store-1:cust-1"
    await harness.send(envelopes.order("10"))
    await harness.send(envelopes.order("10", placed_at=envelopes.t0 + timedelta(days=100)))
    before = len(harness.topics.published)
    assert await harness.segmentation.sweep(key, envelopes.t0 + timedelta(days=50)) == []
    assert len(harness.topics.published) == before

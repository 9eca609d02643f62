"""The segmentation use case with hand-written fakes for the table and the topics."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from boomerang.segmenter.adapters.policy_files import default_policy
from boomerang.segmenter.domain import CustomerState, SegmentPolicy
from boomerang.segmenter.service_layer.ports import SourceRecord
from boomerang.segmenter.service_layer.segmentation import Segmentation, segment_changed_id, segment_elapsed_id
from boomerang.shared.events import Envelope, SegmentChanged


FEEDBACK = "feedback.events.v1"


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
        self.event_times: list[datetime] = []

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
            feedback_topics=(FEEDBACK,),
            event_time=self.event_times.append,
        )
        self.snapshots: list = []

    def record(self, snapshot, transitions) -> None:
        self.journal.append(f"snapshot {snapshot.store_id}:{snapshot.customer_id}")
        self.snapshots.append((snapshot, list(transitions)))

    async def deliver(self, value: bytes | None, key: bytes | None = None, topic: str = "commerce.events.v1"):
        self.offset += 1
        return await self.segmentation.handle(SourceRecord(topic, 2, self.offset, key, value))

    async def send(self, env: Envelope, topic: str = "commerce.events.v1"):
        return await self.deliver(env.to_bytes(), env.key.encode(), topic)

    async def feedback(self, env: Envelope):
        return await self.send(env, FEEDBACK)

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


# --- feedback.events.v1 -------------------------------------------------------------------------


def ignored_count(reason: str) -> float:
    return REGISTRY.get_sample_value("boomerang_segmenter_feedback_ignored_total", {"reason": reason}) or 0.0


async def test_a_click_from_feedback_moves_an_at_risk_customer_to_neutral_once(harness, envelopes):
    t0 = envelopes.t0
    await harness.send(envelopes.order("40", placed_at=t0))
    await harness.segmentation.sweep("store-1:cust-1", t0 + timedelta(days=70))
    assert harness.states.rows["store-1:cust-1"].segment_in("lifecycle") == "at_risk"
    click = envelopes.provider_event("click", at=t0 + timedelta(days=75))
    [change] = await harness.feedback(click)
    assert (change.from_segment, change.to_segment, change.reason) == ("at_risk", "neutral", "engaged_without_ordering")
    assert harness.changes()[-1].to_segment == "neutral"
    published = len(harness.topics.published)
    assert await harness.feedback(click) == []  # redelivered: de-duplicated by envelope id
    assert len(harness.topics.published) == published
    assert harness.states.rows["store-1:cust-1"].recent_event_ids[-1] == click.id


async def test_delivery_outcomes_and_opens_write_nothing(harness, envelopes):
    await harness.send(envelopes.order("40"))
    before, journal = dict(harness.states.rows), list(harness.journal)
    counted = ignored_count("not_engagement")
    for kind in ("processed", "delivered", "open", "bounce", "unsubscribe"):
        assert await harness.feedback(envelopes.provider_event(kind, at=envelopes.t0 + timedelta(days=1))) == []
    assert harness.states.rows == before and harness.journal == journal
    assert harness.topics.dead == []
    assert ignored_count("not_engagement") == counted + 5


async def test_an_unknown_feedback_type_is_skipped_not_dead_lettered(harness, envelopes):
    odd = envelopes.provider_event().model_copy(update={"type": "feedback.review.posted", "data": {"stars": 5}})
    counted = ignored_count("unknown_type")
    assert await harness.feedback(odd) == []
    assert harness.topics.dead == [] and harness.states.rows == {}
    assert ignored_count("unknown_type") == counted + 1
    # The same on the commerce topic is poison: a producer there broke its contract.
    await harness.send(odd)
    assert [reason for _, reason, _ in harness.topics.dead] == ["invalid_event"]


async def test_a_known_feedback_type_with_bad_data_is_dead_lettered(harness, envelopes):
    broken = envelopes.provider_event().model_copy(update={"data": {"kind": "click"}})
    await harness.feedback(broken)
    [(record, reason, _)] = harness.topics.dead
    assert (record.topic, reason) == (FEEDBACK, "invalid_event")


async def test_commerce_events_tell_the_event_time_and_feedback_does_not(harness, envelopes):
    # In a replay of old history the messages go out now, so their feedback carries today's
    # dates: it must not move the event-time clock.
    t0 = envelopes.t0
    await harness.send(envelopes.order("40", placed_at=t0 + timedelta(days=2)))
    await harness.send(envelopes.page_view(at=t0 + timedelta(days=3)))
    await harness.feedback(envelopes.provider_event("delivered", at=t0 + timedelta(days=900)))
    await harness.feedback(envelopes.survey_answer(at=t0 + timedelta(days=900)))
    assert harness.event_times == [t0 + timedelta(days=2), t0 + timedelta(days=3)]


# --- batches: every message stepped, every output published and acked at once, then saved ----


def batch_of(harness: Harness, *items: Envelope | bytes) -> list[SourceRecord]:
    """Source records at the harness's next offsets; bytes are a poison message for cust-1."""
    records = []
    for item in items:
        harness.offset += 1
        key, value = (item.key.encode(), item.to_bytes()) if isinstance(item, Envelope) else (b"store-1:cust-1", item)
        records.append(SourceRecord("commerce.events.v1", 2, harness.offset, key, value))
    return records


async def test_two_events_of_one_customer_in_a_batch_chain_like_one_at_a_time(envelopes):
    first = envelopes.order("200", id="o1")
    second = envelopes.order("300", placed_at=envelopes.t0 + timedelta(days=1), id="o2")
    batched, one_by_one = Harness(envelopes.t0), Harness(envelopes.t0)
    transitions = await batched.segmentation.handle_batch(batch_of(batched, first, second))
    for env in (first, second):
        await one_by_one.send(env)
    assert [t.to_segment for t in transitions] == ["new", "vip"]
    assert [e.id for e in batched.topics.published] == [e.id for e in one_by_one.topics.published]
    assert batched.states.rows == one_by_one.states.rows
    assert batched.states.rows["store-1:cust-1"].orders == 2
    # one publish for the batch, then one write of the customer's latest state and due time
    assert batched.journal == ["publish 2", "put store-1:cust-1", "due store-1:cust-1", "snapshot store-1:cust-1"]
    [(snapshot, recorded)] = batched.snapshots
    assert snapshot.profile["orders"] == 2 and [t.to_segment for t in recorded] == ["new", "vip"]


async def test_a_redelivery_inside_the_batch_counts_once(harness, envelopes):
    order = envelopes.order("200")
    await harness.segmentation.handle_batch(batch_of(harness, order, order))
    assert harness.states.rows["store-1:cust-1"].orders == 1
    assert [c.to_segment for c in harness.changes()] == ["new"]


async def test_a_poison_message_in_the_middle_of_a_batch_is_parked_and_the_rest_processed(harness, envelopes):
    before = envelopes.order("10", customer_id="c1")
    after = envelopes.order("20", customer_id="c2")
    records = batch_of(harness, before, b"{not json", after)
    await harness.segmentation.handle_batch(records)
    [(record, reason, _)] = harness.topics.dead
    assert (record.offset, reason) == (records[1].offset, "unparseable")
    assert sorted(harness.states.rows) == ["store-1:c1", "store-1:c2"]
    assert [e.key for e in harness.topics.published] == ["store-1:c1", "store-1:c2"]
    assert harness.journal[0] == "publish 2"  # both customers' changes in one publish, before any write


async def test_a_publish_failure_sends_the_whole_batch_again_before_anything_is_saved(envelopes):
    harness = Harness(envelopes.t0, failures=2)
    orders = [envelopes.order("10", customer_id=f"c{i}") for i in range(3)]
    await harness.segmentation.handle_batch(batch_of(harness, *orders[:1], b"garbage", *orders[1:]))
    assert harness.pauses == [0.1, 0.2]
    # the third try published all three customers' changes at once; nothing was written before
    assert harness.journal[0] == "publish 3"
    assert sorted(e.key for e in harness.topics.published) == ["store-1:c0", "store-1:c1", "store-1:c2"]
    assert len([line for line in harness.journal if line.startswith("put")]) == 3
    # the dead letter went out with every try: a copy per try, the batch's offsets unacked until then
    assert [reason for _, reason, _ in harness.topics.dead] == ["unparseable"] * 3


async def test_sweep_ticks_are_applied_as_one_batch(harness, envelopes):
    for customer in ("c1", "c2"):
        await harness.send(envelopes.order("10", customer_id=customer))
    harness.journal.clear()
    later = envelopes.t0 + timedelta(days=45)
    swept = await harness.segmentation.sweep_batch([("store-1:c1", later), ("store-1:c2", later), ("store-1:nobody", later)])
    assert [t.to_segment for t in swept] == ["active", "active"]
    assert harness.journal[0] == "publish 2"
    assert {k: s.segment_in("lifecycle") for k, s in harness.states.rows.items()} == {
        "store-1:c1": "active",
        "store-1:c2": "active",
    }


async def test_a_message_without_a_key_is_parked(harness, envelopes):
    order = envelopes.order("10")
    await harness.deliver(order.to_bytes(), None)
    assert [reason for _, reason, _ in harness.topics.dead] == ["key_mismatch"]
    assert harness.states.rows == {}


async def test_a_batch_scores_each_orders_and_time_once(envelopes):
    """A card depends on the order records and the time only: a page view after an order, in
    the same batch, re-uses the card its step computed, and so does the saved state's."""
    calls: list[tuple[int, datetime]] = []

    def scorer(state: CustomerState, at: datetime):
        calls.append((state.orders, at))
        return None  # no model yet

    harness = Harness(envelopes.t0)
    segmentation = Segmentation(
        states=harness.states, events=harness.topics, policy=SegmentPolicy(),
        lifecycle_policies=lambda store_id: default_policy(), due=harness.due, clock=lambda: envelopes.t0,
        scorer=scorer,
    )
    later = envelopes.t0 + timedelta(hours=2)
    await segmentation.handle_batch(batch_of(harness, envelopes.order("10"), envelopes.page_view(at=later)))
    assert calls == [(1, envelopes.t0), (1, later)]
    assert harness.states.rows["store-1:cust-1"].last_visit_at == later

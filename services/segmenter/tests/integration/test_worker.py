"""The worker as a process: commerce events in, one SegmentChanged per transition out, and the
sweep moving customers with no event.

Business time drives the lifecycle: orders are dated days before the real clock, so the
worker's sweep (every 0.5 s here, on the real clock) finds what time alone did since, with
no sleeping for days and no fake Kafka.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from boomerang.segmenter.service_layer.segmentation import segment_changed_id, segment_elapsed_id
from boomerang.shared.events import Envelope, SegmentChanged
from boomerang.shared.kafka import COMMERCE_EVENTS, CUSTOMER_SEGMENTS, EventPublisher

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

DLQ = "commerce.events.v1.dlq.segmenter"


async def publish(bootstrap: str, prefix: str, *items: Envelope | tuple[bytes, bytes]) -> None:
    """Envelopes through shared's publisher; (key, value) pairs as raw bytes (poison)."""
    publisher = EventPublisher(bootstrap, prefix)
    await publisher.start()
    try:
        for item in items:
            if isinstance(item, Envelope):
                await publisher.publish(COMMERCE_EVENTS.name, item)
            else:
                await publisher.publish_raw(COMMERCE_EVENTS.name, item[0], item[1], [])
    finally:
        await publisher.stop()


async def segment_changes(topic_records, prefix: str) -> list[tuple[str, Envelope]]:
    records = await topic_records(CUSTOMER_SEGMENTS.named(prefix))
    return [(r.key.decode(), Envelope.from_bytes(r.value)) for r in records]


async def wait_for_changes(topic_records, prefix: str, count: int, timeout_s: float = 60) -> list[tuple[str, Envelope]]:
    deadline = time.monotonic() + timeout_s
    while len(changes := await segment_changes(topic_records, prefix)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} segment changes, got {[(k, e.data) for k, e in changes]}")
        await asyncio.sleep(0.3)
    return changes


def targets(changes: list[tuple[str, Envelope]], key: str) -> list[str]:
    return sorted(e.event().to_segment for k, e in changes if k == key)


def days_ago(n: float) -> datetime:
    today = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
    return today - timedelta(days=n)


async def test_each_transition_once_the_sweep_lapses_and_poison_is_parked(
    kafka_bootstrap, topic_prefix, segmenter_worker, topic_records, envelopes
):
    worker = segmenter_worker().start()
    first = envelopes.order("300", customer_id="c1", placed_at=days_ago(50), id="c1-order-1")
    crossing = envelopes.order("250", customer_id="c1", placed_at=days_ago(10), id="c1-order-2")
    quiet = envelopes.order("40", customer_id="c2", placed_at=days_ago(200), id="c2-order-1")
    visit = envelopes.page_view(customer_id="c3")
    stream = (
        first,
        first,  # the same envelope again: a producer retry or a replay
        (b"store-1:c1", b"this is not an envelope"),
        crossing,
        quiet,
        visit,
    )
    await publish(kafka_bootstrap, topic_prefix, *stream)
    worker.wait_for_metric("boomerang_segmenter_events_processed_total", 4)
    worker.wait_for_metric("boomerang_segmenter_dead_lettered_total", 1)

    # c1: new on the first order; active once the new period ended (30 days later, found by
    # the second order or the sweep, whichever came first); vip at 550 of net revenue.
    # c2: new 200 days ago, and nothing since: the sweep takes them through active and at_risk
    # to lapsed, each dated when it took effect. c3: a visit, no order: prospect.
    changes = await wait_for_changes(topic_records, topic_prefix, 8)
    assert targets(changes, "store-1:c1") == ["active", "new", "vip"]
    assert targets(changes, "store-1:c2") == ["active", "at_risk", "lapsed", "new"]
    assert targets(changes, "store-1:c3") == ["prospect"]
    by_target = {(k, e.event().to_segment): e for k, e in changes}
    assert by_target["store-1:c1", "new"].id == segment_changed_id("store-1:c1", "new", "c1-order-1")
    assert by_target["store-1:c1", "active"].id == segment_elapsed_id("store-1:c1", "lifecycle", "active", days_ago(20))
    lapsed = by_target["store-1:c2", "lapsed"].event()
    assert lapsed == SegmentChanged(
        from_segment="at_risk",
        to_segment="lapsed",
        reason="one_time_buyer_past_lapsed_days",
        changed_at=days_ago(20),
        orders=1,
        revenue=Decimal("40"),
        dimension="lifecycle",
        detail=lapsed.detail,
    )
    assert "180" in (lapsed.detail or "")
    assert [e.event().changed_at for k, e in changes if k == "store-1:c2"] == [
        days_ago(200), days_ago(170), days_ago(140), days_ago(20)
    ]
    vip = by_target["store-1:c1", "vip"].event()
    assert (vip.from_segment, vip.orders, vip.revenue, vip.dimension) == (None, 2, Decimal("550"), "value")

    [parked] = await topic_records(f"{topic_prefix}{DLQ}")
    assert (parked.key, parked.value) == (b"store-1:c1", b"this is not an envelope")
    assert b"unparseable envelope" in dict(parked.headers)["error"]
    assert worker.metric("boomerang_segmenter_events_duplicate_total") == 1

    # Everything again (a replay): nothing new is published, and later sweeps add nothing.
    await publish(kafka_bootstrap, topic_prefix, first, crossing, quiet, visit)
    worker.wait_for_metric("boomerang_segmenter_events_duplicate_total", 5)
    await asyncio.sleep(2)  # a few more sweeps
    again = await segment_changes(topic_records, topic_prefix)
    assert len(again) == 8 and len({e.id for _, e in again}) == 8

    assert worker.metric('boomerang_segmenter_transitions_total{to_segment="vip"}') == 1
    assert worker.metric('boomerang_segmenter_transitions_total{to_segment="lapsed"}') == 1
    sizes = worker.get("/v1/segments/store-1").json()
    assert (sizes["customers"], sizes["segments"]) == (3, {"active": 1, "lapsed": 1, "prospect": 1, "vip": 1})
    assert worker.get("/healthz").json() == {"status": "ok"}

    assert worker.stop() == 0
    print(f"\nsegmenter ready after {worker.ready_after_s:.1f}s, stopped in {worker.stopped_after_s:.1f}s")


async def test_state_and_due_times_survive_restarts(
    kafka_bootstrap, topic_prefix, segmenter_worker, topic_records, envelopes, tmp_path
):
    first = envelopes.order("300", customer_id="c1", placed_at=days_ago(5), id="c1-order-1")
    crossing = envelopes.order("250", customer_id="c1", placed_at=days_ago(3), id="c1-order-2")
    worker = segmenter_worker().start()
    # c2 is new for 20 more seconds: their due time has to survive the restarts below for a
    # later worker's sweep to make them active.
    ageing_at = datetime.now(timezone.utc) - timedelta(days=30) + timedelta(seconds=20)
    ageing = envelopes.order("20", customer_id="c2", placed_at=ageing_at, id="c2-order-1")
    await publish(kafka_bootstrap, topic_prefix, first, ageing)
    worker.wait_for_metric("boomerang_segmenter_transitions_total", 2)
    assert worker.stop() == 0

    # Same data dir: the local RocksDB store remembers the customer.
    worker = segmenter_worker().start()
    await publish(kafka_bootstrap, topic_prefix, first)
    worker.wait_for_metric("boomerang_segmenter_events_duplicate_total", 1)
    assert worker.stop() == 0

    # Empty data dir, as on a new node: the state comes back from the changelog topic.
    worker = segmenter_worker(data_dir=tmp_path / "elsewhere").start()
    await publish(kafka_bootstrap, topic_prefix, first, crossing)
    worker.wait_for_metric("boomerang_segmenter_transitions_total", 1)
    worker.wait_for_metric("boomerang_segmenter_events_duplicate_total", 1)
    changes = await wait_for_changes(topic_records, topic_prefix, 4)
    sizes = worker.get("/v1/segments/store-1").json()
    assert worker.stop() == 0

    assert targets(changes, "store-1:c1") == ["new", "vip"]
    assert targets(changes, "store-1:c2") == ["active", "new"]
    active = next(e for k, e in changes if e.event().to_segment == "active")
    assert active.id == segment_elapsed_id("store-1:c2", "lifecycle", "active", ageing_at + timedelta(days=30))
    assert (sizes["customers"], sizes["segments"]) == (2, {"active": 1, "new": 1, "vip": 1})


def order_history(envelopes) -> list[Envelope]:
    """30 customers, 1 to 5 orders each over the last 300 days."""
    rng = random.Random(1)
    history = []
    for c in range(30):
        for k in range(rng.randint(1, 5)):
            placed, total = days_ago(rng.uniform(2, 300)), str(rng.randint(10, 200))
            history.append(envelopes.order(total, customer_id=f"c{c}", placed_at=placed, id=f"c{c}-o{k}"))
    return history


async def test_refits_that_move_nobody_are_not_published(kafka_bootstrap, topic_prefix, segmenter_worker, topic_records, envelopes):
    # Adopting a model re-scores every customer of the store, so the leader keeps refitting
    # (every second here) but publishes only when standings move or the model is a day old.
    # On event time, `now` stands still once the history is in: on the wall clock each refit saw
    # the customers a second older, and now and then that moved one across a percentile point.
    worker = segmenter_worker()
    worker.env |= {
        "BOOMERANG_SEGMENTER_MODEL_FIT_INTERVAL_S": "1",
        "BOOMERANG_SEGMENTER_MODEL_MIN_CUSTOMERS": "20",
        "BOOMERANG_SEGMENTER_CLOCK": "event-time",
    }
    worker.start()
    history = order_history(envelopes)
    await publish(kafka_bootstrap, topic_prefix, *history)
    worker.wait_for_metric("boomerang_segmenter_events_processed_total", len(history))
    worker.wait_for_metric("boomerang_segmenter_models_loaded_total", 1)
    # The first fit may run before every customer is in, and the one that sees them all moves
    # them: count from the model of every customer on.
    customers = len({e.customer_id for e in history})
    deadline = time.monotonic() + 30
    while not any(f'"customers": {customers}'.encode() in m.value
                  for m in await topic_records(f"{topic_prefix}boomerang-segmenter.models.v1", 1)):
        assert time.monotonic() < deadline, "no model of every customer was published"
        await asyncio.sleep(0.3)
    skipped = worker.metric("boomerang_segmenter_model_refits_skipped_total")
    worker.wait_for_metric("boomerang_segmenter_model_refits_skipped_total", skipped + 1)
    published = len(await topic_records(f"{topic_prefix}boomerang-segmenter.models.v1", 1))
    worker.wait_for_metric("boomerang_segmenter_model_refits_skipped_total", skipped + 3)
    assert len(await topic_records(f"{topic_prefix}boomerang-segmenter.models.v1", 1)) == published
    assert worker.stop() == 0


async def test_the_leader_fits_a_model_and_scores_reach_the_compacted_topic(
    kafka_bootstrap, topic_prefix, segmenter_worker, topic_records, envelopes
):
    worker = segmenter_worker()
    worker.env |= {
        "BOOMERANG_SEGMENTER_MODEL_FIT_INTERVAL_S": "1",
        "BOOMERANG_SEGMENTER_MODEL_MIN_CUSTOMERS": "20",
        "BOOMERANG_SEGMENTER_MODEL_ADOPT_MOVED_SHARE": "0",  # adopt every refit
    }
    worker.start()
    history = order_history(envelopes)
    orders_of_c5 = sum(1 for e in history if e.customer_id == "c5")
    await publish(kafka_bootstrap, topic_prefix, *history)
    worker.wait_for_metric("boomerang_segmenter_events_processed_total", len(history))
    worker.wait_for_metric("boomerang_segmenter_models_loaded_total", 1)
    # The first fit may run before every customer is in; a later one (each second) sees all 30.
    deadline = time.monotonic() + 30
    while True:
        models = await topic_records(f"{topic_prefix}boomerang-segmenter.models.v1", 1)
        if any(b'"customers": 30' in m.value for m in models):
            break
        assert time.monotonic() < deadline, [m.value[-200:] for m in models]
        await asyncio.sleep(0.3)
    assert {m.key for m in models} == {b"store-1"}

    # A new model re-scores every customer of the store (through the sweep).
    deadline = time.monotonic() + 30
    while len(keys := {r.key for r in await topic_records(f"{topic_prefix}customer.scores.v1")}) < 30:
        assert time.monotonic() < deadline, (len(keys), worker.log())
        await asyncio.sleep(0.3)

    # With a model, every event (and every sweep) re-scores the customer.
    await publish(kafka_bootstrap, topic_prefix, envelopes.order("500", customer_id="c5", placed_at=days_ago(1), id="c5-new"))
    deadline = time.monotonic() + 30
    while not (
        scored := [
            r for r in await topic_records(f"{topic_prefix}customer.scores.v1")
            if r.key == b"store-1:c5" and Envelope.from_bytes(r.value).data["orders"] == orders_of_c5 + 1
        ]
    ):
        assert time.monotonic() < deadline, worker.log()
        await asyncio.sleep(0.3)
    card = Envelope.from_bytes(scored[-1].value)
    assert card.type == "customer.scored"
    data = card.event()
    assert data.orders == orders_of_c5 + 1 and 1 <= data.recency_score <= 5 and 0 <= data.clv_percentile <= 100
    assert 0 <= data.lapse_score <= 1 and data.predicted_clv_365d > 0
    assert worker.stop() == 0

"""The worker as a process: commerce events in, one SegmentChanged per transition out."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from boomerang.segmenter.service_layer.segmentation import segment_changed_id
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


def targets(changes: list[tuple[str, Envelope]], key: str) -> list[str]:
    return sorted(e.event().to_segment for k, e in changes if k == key)


async def test_each_transition_once_and_poison_is_parked(
    kafka_bootstrap, topic_prefix, segmenter_worker, topic_records, envelopes
):
    worker = segmenter_worker().start()
    first = envelopes.order("300", customer_id="c1", id="c1-order-1")
    crossing = envelopes.order("250", customer_id="c1", placed_at=envelopes.t0 + timedelta(days=2), id="c1-order-2")
    await publish(
        kafka_bootstrap,
        topic_prefix,
        first,
        first,  # the same envelope again: a producer retry or a replay
        (b"store-1:c1", b"this is not an envelope"),
        crossing,
        envelopes.order("40", customer_id="c2"),
        envelopes.page_view(customer_id="c3"),
    )
    worker.wait_for_metric("boomerang_segmenter_events_processed_total", 4)
    worker.wait_for_metric("boomerang_segmenter_dead_lettered_total", 1)

    changes = await segment_changes(topic_records, topic_prefix)
    assert targets(changes, "store-1:c1") == ["new", "vip"]
    assert targets(changes, "store-1:c2") == ["new"]
    assert len(changes) == 3
    vip = next(e for _, e in changes if e.event().to_segment == "vip")
    assert vip.id == segment_changed_id("store-1:c1", "vip", "c1-order-2")
    assert vip.event() == SegmentChanged(
        from_segment=None,
        to_segment="vip",
        reason="net_revenue_reached_threshold",
        changed_at=crossing.event().placed_at,
        orders=2,
        revenue=Decimal("550"),
    )

    [parked] = await topic_records(f"{topic_prefix}{DLQ}")
    assert (parked.key, parked.value) == (b"store-1:c1", b"this is not an envelope")
    assert b"unparseable envelope" in dict(parked.headers)["error"]

    assert worker.metric("boomerang_segmenter_events_duplicate_total") == 1
    assert worker.metric('boomerang_segmenter_transitions_total{to_segment="vip"}') == 1
    sizes = worker.get("/v1/segments/store-1").json()
    assert (sizes["customers"], sizes["segments"]) == (3, {"new": 2, "vip": 1})
    assert worker.get("/healthz").json() == {"status": "ok"}

    assert worker.stop() == 0
    print(f"\nsegmenter ready after {worker.ready_after_s:.1f}s, stopped in {worker.stopped_after_s:.1f}s")


async def test_state_survives_restarts(
    kafka_bootstrap, topic_prefix, segmenter_worker, topic_records, envelopes, tmp_path
):
    first = envelopes.order("300", customer_id="c1", id="c1-order-1")
    crossing = envelopes.order("250", customer_id="c1", placed_at=envelopes.t0 + timedelta(days=2), id="c1-order-2")

    worker = segmenter_worker().start()
    await publish(kafka_bootstrap, topic_prefix, first)
    worker.wait_for_metric("boomerang_segmenter_transitions_total", 1)
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
    sizes = worker.get("/v1/segments/store-1").json()
    assert worker.stop() == 0

    changes = await segment_changes(topic_records, topic_prefix)
    assert targets(changes, "store-1:c1") == ["new", "vip"]
    assert (sizes["customers"], sizes["segments"]) == (1, {"new": 1, "vip": 1})

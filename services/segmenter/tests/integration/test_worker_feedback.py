"""The worker as a process reading feedback.events.v1 next to commerce.events.v1: a click moves
an engaged non-buyer from at_risk to neutral (the default policy's engaged_within_days); opens,
delivery outcomes and types it does not know change nothing and are not dead-lettered."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from boomerang.segmenter.service_layer.segmentation import segment_changed_id
from boomerang.shared.events import Envelope
from boomerang.shared.kafka import COMMERCE_EVENTS, CUSTOMER_SEGMENTS, FEEDBACK_EVENTS, EventPublisher

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

FEEDBACK_DLQ = "feedback.events.v1.dlq.segmenter"


def days_ago(n: float) -> datetime:
    today = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
    return today - timedelta(days=n)


async def publish(bootstrap: str, prefix: str, topic: str, *items: Envelope | tuple[bytes, bytes]) -> None:
    publisher = EventPublisher(bootstrap, prefix)
    await publisher.start()
    try:
        for item in items:
            if isinstance(item, Envelope):
                await publisher.publish(topic, item)
            else:
                await publisher.publish_raw(topic, item[0], item[1], [])
    finally:
        await publisher.stop()


async def changes_of(topic_records, prefix: str, key: str) -> list[Envelope]:
    records = await topic_records(CUSTOMER_SEGMENTS.named(prefix))
    return [Envelope.from_bytes(r.value) for r in records if r.key.decode() == key]


async def test_a_click_moves_an_at_risk_customer_to_neutral_and_the_rest_of_feedback_changes_nothing(
    kafka_bootstrap, topic_prefix, segmenter_worker, topic_records, envelopes
):
    worker = segmenter_worker().start()
    key = "store-1:c1"
    # One order 70 days ago: a one-time buyer is at risk 60 days after it (default policy).
    await publish(
        kafka_bootstrap, topic_prefix, COMMERCE_EVENTS.name,
        envelopes.order("40", customer_id="c1", placed_at=days_ago(70), id="c1-order-1"),
    )
    worker.wait_for_metric('boomerang_segmenter_transitions_total{to_segment="at_risk"}', 1)

    click = envelopes.provider_event("click", customer_id="c1", at=days_ago(2), id="c1-click-1")
    not_engagement = [
        envelopes.provider_event(kind, customer_id="c1", at=days_ago(3)) for kind in ("delivered", "open", "bounce")
    ]
    unknown = envelopes.provider_event(customer_id="c1", at=days_ago(3)).model_copy(
        update={"type": "feedback.review.posted", "data": {"stars": 5}}
    )
    await publish(
        kafka_bootstrap, topic_prefix, FEEDBACK_EVENTS.name,
        *not_engagement, unknown, (key.encode(), b"not an envelope"), click, click,
    )
    worker.wait_for_metric('boomerang_segmenter_transitions_total{to_segment="neutral"}', 1)
    worker.wait_for_metric("boomerang_segmenter_feedback_ignored_total", 4)
    worker.wait_for_metric("boomerang_segmenter_events_duplicate_total", 1)  # the click, redelivered

    changes = await changes_of(topic_records, topic_prefix, key)
    assert [e.event().to_segment for e in changes] == ["new", "active", "at_risk", "neutral"]
    neutral = changes[-1]
    assert neutral.id == segment_changed_id(key, "neutral", "c1-click-1")
    assert (neutral.event().from_segment, neutral.event().reason) == ("at_risk", "engaged_without_ordering")
    assert worker.metric('boomerang_segmenter_feedback_ignored_total{reason="not_engagement"}') == 3
    assert worker.metric('boomerang_segmenter_feedback_ignored_total{reason="unknown_type"}') == 1
    # Only the poison is parked, in the feedback topic's own dead-letter topic.
    [parked] = await topic_records(f"{topic_prefix}{FEEDBACK_DLQ}")
    assert parked.value == b"not an envelope"
    assert dict(parked.headers)["source_topic"] == FEEDBACK_EVENTS.named(topic_prefix).encode()
    await asyncio.sleep(1.5)  # a few more sweeps: the click keeps them neutral (14 days)
    assert len(await changes_of(topic_records, topic_prefix, key)) == 4
    assert worker.stop() == 0

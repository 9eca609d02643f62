"""A producer whose sequence numbers went out of step with the broker is replaced, not kept.

aiokafka gives a batch its sequence numbers when it drains it; a batch that then expires (its
partition had no leader for `request_timeout_ms`, as during a broker restart) leaves a gap, and
the broker refuses every later batch to that partition with OutOfOrderSequenceNumber. The test
makes the same gap by hand, since waiting for the restart race would make it slow and flaky.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from aiokafka import TopicPartition

from boomerang.ingest.adapters.publisher import KafkaCommercePublisher
from boomerang.shared.events import Envelope, PageViewed
from boomerang.shared.kafka import COMMERCE_EVENTS, PublishFailed

from .conftest import commerce_events

pytestmark = pytest.mark.integration


def viewed(message_id: str) -> Envelope:
    return Envelope.wrap(
        PageViewed(path="/"), store_id="s1", customer_id="c1", source="test",
        time=datetime(2025, 3, 1, tzinfo=timezone.utc), id=message_id,
    )


def skip_sequence_numbers(kafka: KafkaCommercePublisher, topic: str) -> None:
    """What an expired batch leaves behind: its sequence numbers taken, its records never sent."""
    producer = kafka._publisher._producer  # type: ignore[union-attr]
    for partition in range(COMMERCE_EVENTS.partitions):
        producer._txn_manager.increment_sequence_number(TopicPartition(topic, partition), 3)


async def test_a_broken_producer_is_replaced_and_publishing_resumes(kafka_bootstrap, topic_prefix):
    errors: list[int] = []
    kafka = KafkaCommercePublisher(kafka_bootstrap, topic_prefix, timeout_s=5, on_error=lambda: errors.append(1))
    await kafka.start()
    try:
        await kafka.publish([viewed("before")])
        skip_sequence_numbers(kafka, COMMERCE_EVENTS.named(topic_prefix))

        with pytest.raises(PublishFailed) as caught:
            await kafka.publish([viewed("refused")])
        assert "OutOfOrderSequenceNumber" in str(caught.value)
        assert not await kafka.ready()

        async with asyncio.timeout(20):
            while True:
                try:
                    await kafka.publish([viewed("after")])
                    break
                except PublishFailed:  # while the new producer connects
                    await asyncio.sleep(0.1)
        assert await kafka.ready() and kafka.in_flight == 0
    finally:
        await kafka.stop()

    published = await commerce_events(kafka_bootstrap, topic_prefix)
    assert sorted(e.id for _, e in published) == ["after", "before"]
    assert errors  # counted as producer errors

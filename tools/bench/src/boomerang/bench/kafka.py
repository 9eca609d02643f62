"""The limit (a bare aiokafka producer) and the check that every event really landed."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

# The producer settings of boomerang.shared.kafka.EventPublisher, which ingest publishes with:
# acks=all and idempotence (an ack means stored once), linger 5 ms, 16 KB batches (aiokafka's default).
ACKS = "all"
LINGER_MS = 5
IN_FLIGHT = 20_000  # unacked sends at once: enough to keep every partition's batch full


async def raw_produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    """Send (key, value) pairs as fast as aiokafka takes them; seconds from first send to last ack."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks=ACKS, enable_idempotence=True, linger_ms=LINGER_MS
    )
    await producer.start()
    try:
        await producer.partitions_for(topic)  # metadata before the clock starts
        started = time.perf_counter()
        for start in range(0, len(records), IN_FLIGHT):
            acks = [
                await producer.send(topic, value, key=key)
                for key, value in records[start : start + IN_FLIGHT]
            ]
            await asyncio.gather(*acks)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def end_offsets(bootstrap: str, topic: str) -> int:
    """How many records the topic holds, summed over its partitions (nothing is ever deleted here)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        offsets = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(offsets.values())
    finally:
        await consumer.stop()

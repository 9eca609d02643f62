"""The limit (a bare aiokafka producer) and the check that every event really landed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

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


async def raw_consume(
    bootstrap: str, topic: str, partitions: int, poll_ms: int = 500, decode: Callable[[bytes], Any] | None = None
) -> tuple[int, float]:
    """Read every record of the topic with a bare consumer (no group, every partition, from the
    beginning to the end offsets taken before the clock starts): (records, seconds). The records
    are not decoded (aiokafka hands over bytes, in batches of up to 10,000) unless `decode` is
    given: it is then called on every record's value."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=4 * 2**20)
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        left = {tp: end for tp, end in ends.items() if end > 0}
        count = 0
        started = time.perf_counter()
        while left:
            for tp, records in (await consumer.getmany(timeout_ms=poll_ms, max_records=10_000)).items():
                count += len(records)
                if decode is not None:
                    for record in records:
                        decode(record.value)
                if records and records[-1].offset + 1 >= left.get(tp, 0):
                    left.pop(tp, None)
        return count, time.perf_counter() - started
    finally:
        await consumer.stop()


"""Reading what the services wrote to Kafka, from the beginning, for assertions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

from boomerang.shared.events import Envelope


async def _read(bootstrap: str, topic: str, seconds: float) -> list[Envelope]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: list[Envelope] = []
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                found += [Envelope.from_bytes(r.value) for r in records]
    finally:
        await consumer.stop()
    return found


def wait_for_envelopes(
    bootstrap: str, topic: str, match: Callable[[Envelope], bool], count: int = 1, timeout: float = 60
) -> list[Envelope]:
    deadline = time.monotonic() + timeout
    matched: list[Envelope] = []
    while time.monotonic() < deadline:
        matched = [e for e in asyncio.run(_read(bootstrap, topic, 2)) if match(e)]
        if len(matched) >= count:
            return matched
    raise AssertionError(f"expected {count} matching envelopes on {topic}, found {len(matched)}")


def envelopes_now(bootstrap: str, topic: str) -> list[Envelope]:
    return asyncio.run(_read(bootstrap, topic, 2))

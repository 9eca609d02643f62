"""Publishing events: acks=all and an idempotent producer, so an ack means durably stored once."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from boomerang.shared.events import Envelope


class PublishFailed(Exception):
    """Kafka did not acknowledge in time; the caller must not report success."""


class EventPublisher:
    def __init__(self, bootstrap: str, prefix: str = "", *, timeout_s: float = 10.0, **producer_kw) -> None:
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=producer_kw.pop("linger_ms", 5),
            request_timeout_ms=int(timeout_s * 1000),
            **producer_kw,
        )
        self.started = False

    async def start(self) -> None:
        try:
            await self._producer.start()
        except BaseException:
            await self._producer.stop()  # a producer that failed to start cannot be restarted
            raise
        self.started = True

    async def ready(self, timeout_s: float = 2.0) -> bool:
        """Started, and a broker answers a metadata request now (not just cached metadata)."""
        if not self.started:
            return False
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout_s)
        except (KafkaError, asyncio.TimeoutError, OSError):
            return False
        return True

    async def stop(self) -> None:
        if self.started:
            await self._producer.stop()
            self.started = False

    async def publish(self, topic: str, envelope: Envelope) -> None:
        await self.publish_many(topic, [envelope])

    async def publish_many(self, topic: str, envelopes: list[Envelope]) -> None:
        """Send all, then wait for every ack; raises PublishFailed if any is not acked in time."""
        records = [(e.key.encode(), e.to_bytes(), []) for e in envelopes]
        await self._send_acked(topic, records)

    async def publish_raw(self, topic: str, key: bytes | None, value: bytes, headers: list) -> None:
        await self._send_acked(topic, [(key, value, headers)])

    async def _send_acked(self, topic: str, records: list[tuple[bytes | None, bytes, list]]) -> None:
        name = f"{self._prefix}{topic}"

        async def send_all() -> None:
            futures = [
                await self._producer.send(name, value, key=key, headers=headers or None)
                for key, value, headers in records
            ]
            await asyncio.gather(*futures)

        try:
            # Bounded: with Kafka down, send() waits for metadata and must not hang a request.
            await asyncio.wait_for(send_all(), self._timeout_s)
        except (KafkaError, asyncio.TimeoutError) as exc:
            raise PublishFailed(f"kafka did not acknowledge: {exc!r}") from exc

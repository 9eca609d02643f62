"""Kafka for the outbox relay: a publisher that can (re)connect, since Kafka may be down at start."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka.errors import KafkaError

from boomerang.shared.events import Envelope
from boomerang.shared.kafka import FEEDBACK_EVENTS, EventPublisher, PublishFailed
from boomerang.shared.logs import get_logger

log = get_logger(__name__)


class KafkaEventBus:
    def __init__(self, bootstrap: str, prefix: str, *, timeout_s: float) -> None:
        self._bootstrap = bootstrap
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._publisher: EventPublisher | None = None

    @property
    def connected(self) -> bool:
        return self._publisher is not None

    async def connect(self) -> None:
        if self._publisher is not None:
            return
        # A producer whose start failed cannot be started again: make a fresh one each attempt.
        publisher = EventPublisher(self._bootstrap, self._prefix, timeout_s=self._timeout_s)
        try:
            await asyncio.wait_for(publisher.start(), self._timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            raise PublishFailed(f"kafka unreachable: {exc!r}") from exc
        self._publisher = publisher
        log.info("kafka_connected")

    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        if self._publisher is None:
            raise PublishFailed("not connected to kafka")
        await self._publisher.publish_many(FEEDBACK_EVENTS.name, list(envelopes))

    async def ping(self) -> bool:
        return self._publisher is not None and await self._publisher.ready(min(self._timeout_s, 3.0))

    async def close(self) -> None:
        if self._publisher is not None:
            await self._publisher.stop()
            self._publisher = None

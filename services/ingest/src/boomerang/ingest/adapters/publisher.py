"""Publishing to `commerce.events.v1`, surviving a Kafka that is down at start or goes away.

While no producer is connected, publishing fails at once (the API answers 503) and a
background task keeps trying to connect; once connected, the shared publisher's acks=all,
idempotent producer does the rest, and itself reconnects after broker restarts. A producer
that can no longer deliver (`EventPublisher.broken`, e.g. its sequence numbers went out of
step during a broker restart) is retired and a new one connected, so 503s do not last forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from boomerang.shared.events import Envelope
from boomerang.shared.kafka import COMMERCE_EVENTS, EventPublisher, PublishFailed, TopicSpec
from boomerang.shared.logs import get_logger

log = get_logger(__name__)


class KafkaCommercePublisher:
    def __init__(
        self,
        bootstrap: str,
        prefix: str,
        *,
        timeout_s: float,
        reconnect_every_s: float = 2.0,
        on_error: Callable[[], None] = lambda: None,
    ) -> None:
        self._bootstrap = bootstrap
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._reconnect_every_s = reconnect_every_s
        self._on_error = on_error
        self._publisher: EventPublisher | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._retiring: dict[asyncio.Task[None], EventPublisher] = {}

    @property
    def started(self) -> bool:
        return self._publisher is not None

    async def start(self) -> None:
        """Connect if Kafka answers now; otherwise keep trying in the background. Never raises."""
        if not await self._try_connect():
            self._connecting = asyncio.create_task(self._keep_connecting(), name="ingest-kafka-connect")

    async def stop(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self._publisher is not None:
            # Bounded: with Kafka gone, records it has not acked by then are given up.
            await self._publisher.stop(flush_timeout_s=self._timeout_s)
            self._publisher = None
        await asyncio.gather(*self._retiring, return_exceptions=True)

    @property
    def in_flight(self) -> int:
        """Records handed to a producer and not acked yet (the in-flight gauge)."""
        producers = [*self._retiring.values(), *([self._publisher] if self._publisher else [])]
        return sum(p.in_flight for p in producers)

    async def publish(self, envelopes: list[Envelope], *, topic: TopicSpec = COMMERCE_EVENTS) -> None:
        if self._publisher is not None and self._publisher.broken:
            self._replace(self._publisher)
        if self._publisher is None:
            self._on_error()
            raise PublishFailed("not connected to kafka")
        try:
            await self._publisher.publish_many(topic.name, envelopes)
        except PublishFailed:
            self._on_error()
            raise

    async def ready(self) -> bool:
        publisher = self._publisher
        if publisher is None or publisher.broken:
            return False
        return await publisher.ready(timeout_s=min(2.0, self._timeout_s))

    def _replace(self, broken: EventPublisher) -> None:
        """Retire a broken producer in the background (what it still holds is acked or given
        up, bounded, so events in doubt settle) and connect a new one."""
        self._publisher = None
        log.error("kafka_producer_replaced", bootstrap=self._bootstrap, in_flight=broken.in_flight)
        retiring = asyncio.create_task(broken.stop(flush_timeout_s=self._timeout_s), name="ingest-kafka-retire")
        self._retiring[retiring] = broken
        retiring.add_done_callback(lambda task: self._retiring.pop(task, None))
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.create_task(self._keep_connecting(), name="ingest-kafka-connect")

    async def _keep_connecting(self) -> None:
        while not await self._try_connect():
            await asyncio.sleep(self._reconnect_every_s)

    async def _try_connect(self) -> bool:
        publisher = EventPublisher(self._bootstrap, self._prefix, timeout_s=self._timeout_s)
        try:
            await asyncio.wait_for(publisher.start(), self._timeout_s)
        except Exception as exc:  # noqa: BLE001 - any failure to connect means: try again later
            log.warning("kafka_connect_failed", bootstrap=self._bootstrap, error=repr(exc)[:300])
            self._on_error()
            return False
        self._publisher = publisher
        log.info("kafka_connected", bootstrap=self._bootstrap)
        return True

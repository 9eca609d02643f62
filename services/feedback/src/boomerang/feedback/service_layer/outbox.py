"""Transactional outbox: a provider event is stored before we answer, published after.

Why: SendGrid and Twilio want a fast 2xx and retry (for hours) otherwise, so the webhook cannot
wait on Kafka the way ingest does. The row in our own store is the durable record; the request
publishes its new rows right away when Kafka is up (bounded by a timeout), and this relay,
running in the app's lifespan, publishes whatever is still unpublished: events accepted while
Kafka was down, or left behind by a crash between commit and publish. Delivery is at least once;
the envelope id derives from the provider's event id, so consumers de-duplicate re-publications.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from contextlib import suppress
from datetime import datetime

from boomerang.feedback import metrics
from boomerang.feedback.domain.envelopes import envelope_for
from boomerang.feedback.service_layer.ports import EventBus, ProviderEventStore
from boomerang.shared.kafka import PublishFailed
from boomerang.shared.logs import get_logger

log = get_logger(__name__)


class OutboxRelay:
    def __init__(
        self,
        store: ProviderEventStore,
        bus: EventBus,
        *,
        clock: Callable[[], datetime],
        batch_size: int = 500,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._batch_size = batch_size
        # One publisher at a time in this process, so the request and the relay never both
        # publish the same row; across replicas, envelope ids make duplicates harmless.
        self._lock = asyncio.Lock()

    @property
    def bus_connected(self) -> bool:
        return self._bus.connected

    async def publish_pending(self, among: Collection[int] | None = None) -> int:
        """Publish one batch of unpublished events (only `among` if given); raises PublishFailed."""
        async with self._lock:
            pending = await asyncio.to_thread(self._store.unpublished, self._batch_size, among)
            if not pending:
                return 0
            await self._bus.publish([envelope_for(stored.event)[0] for stored in pending])
            published_at = self._clock()
            await asyncio.to_thread(self._store.mark_published, [s.id for s in pending], published_at)
        for stored in pending:
            metrics.PUBLISHED.labels(stored.event.provider).inc()
            metrics.PUBLISH_LAG.observe(max(0.0, (published_at - stored.event.received_at).total_seconds()))
        return len(pending)

    async def drain(self) -> int:
        """Publish until nothing is left."""
        total = 0
        while count := await self.publish_pending():
            total += count
            if count < self._batch_size:
                break
        return total

    async def refresh_backlog(self) -> None:
        backlog = await asyncio.to_thread(self._store.backlog)
        metrics.UNPUBLISHED.set(backlog.unpublished)
        oldest = backlog.oldest_received_at
        metrics.OLDEST_UNPUBLISHED.set((self._clock() - oldest).total_seconds() if oldest else 0)

    async def run(self, stop: asyncio.Event, *, interval_s: float, max_backoff_s: float) -> None:
        delay = interval_s
        while not stop.is_set():
            try:
                if not self._bus.connected:
                    await self._bus.connect()
                if published := await self.drain():
                    log.info("outbox_relayed", events=published)
                delay = interval_s
            except PublishFailed as exc:
                metrics.PUBLISH_FAILURES.labels("relay").inc()
                delay = min(delay * 2, max_backoff_s)
                log.warning("outbox_relay_failed", error=repr(exc)[:200], retry_in_s=delay)
            except Exception as exc:  # noqa: BLE001 - the relay must outlive a bad tick (e.g. DB blip)
                delay = min(delay * 2, max_backoff_s)
                log.exception("outbox_relay_error", error=repr(exc)[:200], retry_in_s=delay)
            try:
                await self.refresh_backlog()
            except Exception as exc:  # noqa: BLE001
                log.warning("backlog_unavailable", error=repr(exc)[:200])
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

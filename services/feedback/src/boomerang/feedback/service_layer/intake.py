"""Taking in a verified webhook: keep each provider event once, then try to publish it at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pydantic import ValidationError

from boomerang.feedback import metrics
from boomerang.feedback.domain.envelopes import envelope_for, kind_label
from boomerang.feedback.domain.errors import InvalidPayload, KafkaUnavailable
from boomerang.feedback.domain.model import Attribution, ProviderEvent
from boomerang.feedback.service_layer.outbox import OutboxRelay
from boomerang.feedback.service_layer.ports import ProviderEventStore
from boomerang.shared.kafka import PublishFailed
from boomerang.shared.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Intake:
    received: int
    stored: int
    duplicates: int
    published: bool


async def take_in(
    events: list[ProviderEvent],
    store: ProviderEventStore,
    relay: OutboxRelay,
    *,
    publish_timeout_s: float,
) -> Intake:
    """Stored means accepted: the caller answers 2xx even when Kafka is away, the relay catches up."""
    attributed = {event.provider_event_id: _mappable(i, event).attributed for i, event in enumerate(events)}
    for event in events:
        metrics.WEBHOOK_EVENTS.labels(event.provider, kind_label(event.provider, event.kind)).inc()
    new = await asyncio.to_thread(store.add_new, events)
    for stored in new:
        if not attributed[stored.event.provider_event_id]:
            metrics.UNATTRIBUTED.labels(stored.event.provider).inc()
    duplicates = len(events) - len(new)
    if duplicates and events:
        metrics.DUPLICATES.labels(events[0].provider).inc(duplicates)
    published = await _publish_now(relay, [s.id for s in new], publish_timeout_s)
    log.info(
        "webhook_accepted",
        provider=events[0].provider if events else None,
        received=len(events),
        stored=len(new),
        duplicates=duplicates,
        published=published,
    )
    return Intake(len(events), len(new), duplicates, published)


async def take_in_acked(
    event: ProviderEvent, store: ProviderEventStore, relay: OutboxRelay, *, publish_timeout_s: float
) -> bool:
    """Keep the event once and return only when Kafka has it (True if it was new).

    For what a person does on our pages (unsubscribe, survey): they wait, so they learn about a
    failure and retry, as ingest's clients do. Raises KafkaUnavailable (503) otherwise; the event
    stays stored and the relay publishes it when Kafka is back, so the unsubscribe is not lost.
    """
    _mappable(0, event)
    metrics.WEBHOOK_EVENTS.labels(event.provider, kind_label(event.provider, event.kind)).inc()
    new = await asyncio.to_thread(store.add_new, [event])
    stored = new[0] if new else await asyncio.to_thread(store.find, event.provider, event.provider_event_id)
    if not new:
        metrics.DUPLICATES.labels(event.provider).inc()
    if stored is not None and stored.published_at is None:
        # A retry of an event stored while Kafka was away publishes it now, or fails again.
        if not await _publish_now(relay, [stored.id], publish_timeout_s):
            raise KafkaUnavailable("Kafka did not acknowledge; kept, and published once Kafka is back")
    log.info("link_action_accepted", source=event.provider, kind=event.kind, new=bool(new))
    return bool(new)


def _mappable(index: int, event: ProviderEvent) -> Attribution:
    """An event that cannot become an envelope must not reach the outbox, where it would stick."""
    try:
        return envelope_for(event)[1]
    except ValidationError as exc:
        raise InvalidPayload(
            f"the event cannot be published: {exc.errors()[0]['msg']}", code="invalid_event", field=str(index)
        ) from None


async def _publish_now(relay: OutboxRelay, ids: list[int], timeout_s: float) -> bool:
    if not ids or not relay.bus_connected:
        return not ids
    try:
        await asyncio.wait_for(relay.publish_pending(among=ids), timeout_s)
        return True
    except (PublishFailed, TimeoutError) as exc:
        metrics.PUBLISH_FAILURES.labels("request").inc()
        log.warning("publish_deferred_to_relay", events=len(ids), error=repr(exc)[:200])
        return False

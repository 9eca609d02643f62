"""Outcomes to `message.events.v1`, keyed store:customer like every topic.

A consumer batch's triggers publish their outcomes side by side; those published in one turn of
the event loop go to Kafka as one `publish_many` (one wait for the acks, `AsyncBatched`), which
costs a fraction of a call per trigger. Each caller returns once Kafka has acknowledged the lot,
or fails with it.
"""

from __future__ import annotations

from boomerang.messenger.service_layer.batching import AsyncBatched
from boomerang.shared.events import Envelope
from boomerang.shared.kafka import MESSAGE_EVENTS, EventPublisher


class KafkaOutcomes:
    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher
        self._together: AsyncBatched[list[Envelope]] = AsyncBatched(self._publish_all)

    async def publish(self, envelopes: list[Envelope]) -> None:
        await self._together(envelopes)

    async def _publish_all(self, batches: list[list[Envelope]]) -> None:
        await self._publisher.publish_many(MESSAGE_EVENTS.name, [e for envelopes in batches for e in envelopes])

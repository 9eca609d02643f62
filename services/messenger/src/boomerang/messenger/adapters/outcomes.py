"""Outcomes to `message.events.v1`, keyed store:customer like every topic."""

from __future__ import annotations

from boomerang.shared.events import Envelope
from boomerang.shared.kafka import MESSAGE_EVENTS, EventPublisher


class KafkaOutcomes:
    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher

    async def publish(self, envelopes: list[Envelope]) -> None:
        await self._publisher.publish_many(MESSAGE_EVENTS.name, envelopes)

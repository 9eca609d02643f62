"""Publishing erasure requests to `privacy.erasure.v1` over the producer commerce events use."""

from __future__ import annotations

from boomerang.ingest.adapters.publisher import KafkaCommercePublisher
from boomerang.shared.events import Envelope
from boomerang.shared.kafka import PRIVACY_ERASURE


class KafkaErasurePublisher:
    def __init__(self, kafka: KafkaCommercePublisher) -> None:
        self._kafka = kafka  # one connection, started and stopped by the app's lifespan

    async def publish(self, envelopes: list[Envelope]) -> None:
        await self._kafka.publish(envelopes, topic=PRIVACY_ERASURE)

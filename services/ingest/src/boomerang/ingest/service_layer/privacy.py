"""Erasure requests: forget what ingest holds on a customer and tell every other service to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from boomerang.ingest.domain.privacy import erasure_requested
from boomerang.ingest.service_layer.ingest import KafkaUnavailable
from boomerang.shared.errors import Forbidden
from boomerang.shared.events import Envelope
from boomerang.shared.kafka import PublishFailed
from boomerang.shared.logs import get_logger

log = get_logger(__name__)


class CustomerData(Protocol):
    """Something ingest keeps per customer (identity links, parked anonymous events)."""

    async def forget_customer(self, store_id: str, customer_id: str) -> int:
        """Delete all of it; returns how many records went. Safe to call again."""


class ErasurePublisher(Protocol):
    async def publish(self, envelopes: list[Envelope]) -> None:
        """Return only once Kafka acknowledged them on privacy.erasure.v1; raise PublishFailed otherwise."""


class StoreMismatch(Forbidden):
    code = "store_mismatch"

    def __init__(self) -> None:
        super().__init__("this write key belongs to another store", field="store")


@dataclass(frozen=True)
class ErasureReceipt:
    request_id: str
    envelope: Envelope
    forgotten: int


class Erasures:
    def __init__(
        self,
        *,
        publisher: ErasurePublisher,
        holders: Sequence[CustomerData],
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        retry_after_s: int = 5,
    ) -> None:
        self._publisher = publisher
        self._holders = holders
        self._clock = clock
        self._new_id = new_id
        self._retry_after_s = retry_after_s

    async def request(
        self, *, key_store_id: str, store_id: str, customer_id: str, reason: str | None = None
    ) -> ErasureReceipt:
        """Accepted only once Kafka has the request; raises StoreMismatch, Rejected, KafkaUnavailable."""
        if key_store_id != store_id:
            raise StoreMismatch()
        request_id = self._new_id()
        envelope = erasure_requested(
            store_id=store_id,
            customer_id=customer_id,
            request_id=request_id,
            now=self._clock(),
            reason=reason,
        )
        # Our own copy goes first: deleting is idempotent, so a 503 below is safe to retry.
        forgotten = 0
        for holder in self._holders:
            forgotten += await holder.forget_customer(store_id, customer_id)
        try:
            await self._publisher.publish([envelope])
        except PublishFailed as exc:
            log.warning(
                "erasure_publish_failed", store_id=store_id, request_id=request_id, error=str(exc)[:300]
            )
            raise KafkaUnavailable(self._retry_after_s) from exc
        log.info("erasure_requested", store_id=store_id, request_id=request_id, forgotten=forgotten)
        return ErasureReceipt(request_id, envelope, forgotten)

"""Receiving Shopify webhooks: verify the store's signature, map, and deliver through `Ingest`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.domain.rejections import Rejected
from boomerang.ingest.domain.shopify import (
    TOPICS,
    guest_of_order,
    map_webhook,
    signature_matches,
    wrap,
)
from boomerang.ingest.domain.write_keys import valid_store_id
from boomerang.ingest.service_layer.ingest import Ingest, Outcome
from boomerang.ingest.service_layer.ports import StoreRepository
from boomerang.shared.errors import Unauthorized
from boomerang.shared.logs import get_logger

log = get_logger(__name__)

MAX_DELIVERY_ID = 128  # the de-duplication window's column
# Verifying against this when there is no secret costs the same as a real check, so the answer
# time does not tell a caller which stores exist or have Shopify set up.
_NO_SECRET = "no-secret-" + "0" * 54


class InvalidSignature(Unauthorized):
    code = "invalid_signature"

    def __init__(self) -> None:
        super().__init__("X-Shopify-Hmac-SHA256 does not match the body and this store's Shopify secret")


class ShopifyOrders(Protocol):
    """Which customer each Shopify order belongs to: refunds name only the order."""

    async def remember(self, store_id: str, order_id: str, customer_id: str, at: datetime) -> None:
        """Record (or overwrite) the order's customer; safe to call twice."""

    async def customer_of(self, store_id: str, order_id: str) -> str | None: ...


@dataclass(frozen=True)
class Received:
    """What became of one webhook."""

    topic: str
    ignored: bool = False
    outcome: Outcome | None = None


class ShopifyWebhooks:
    def __init__(
        self,
        *,
        stores: StoreRepository,
        orders: ShopifyOrders,
        ingest: Ingest,
        rules: Rules,
        clock: Callable[[], datetime],
    ) -> None:
        self._stores = stores
        self._orders = orders
        self._ingest = ingest
        self._rules = rules
        self._clock = clock

    async def verify(self, store_id: str, body: bytes, signature: str | None) -> None:
        """401 unless the body was signed with this store's secret. An unknown store and a store
        without a secret are refused the same way, so the answer says nothing about either."""
        store = await self._stores.get_store(store_id) if valid_store_id(store_id) else None
        secret = store.shopify_secret if store is not None else None
        if not signature_matches(body, secret or _NO_SECRET, signature) or not secret:
            raise InvalidSignature()

    async def receive(
        self,
        store_id: str,
        topic: str | None,
        payload: Any,
        *,
        webhook_id: str | None = None,
        event_id: str | None = None,
    ) -> Received:
        """Map a verified webhook and deliver it; a topic Boomerang does not use is ignored."""
        if not topic:
            raise Rejected("missing_field", "the X-Shopify-Topic header is required", "X-Shopify-Topic")
        if topic not in TOPICS:
            return Received(topic, ignored=True)
        now = self._clock()
        mapped = map_webhook(topic, payload, store_id=store_id, rules=self._rules)
        customer_id = mapped.customer_id
        if mapped.order_id is not None and customer_id is not None:
            await self._orders.remember(store_id, mapped.order_id, customer_id, now)
        elif mapped.order_id is not None:
            # A refund: its order's buyer, or the order's own guest id if the order predates us.
            customer_id = await self._orders.customer_of(store_id, mapped.order_id)
            customer_id = customer_id or guest_of_order(mapped.order_id)
        assert customer_id is not None  # every topic but refunds names its customer
        envelope = wrap(mapped, store_id=store_id, customer_id=customer_id)
        outcome = await self._ingest.deliver(
            store_id, [envelope], delivery_ids=delivery_ids(topic, webhook_id, event_id), now=now
        )
        return Received(topic, outcome=outcome)


def delivery_ids(topic: str, webhook_id: str | None, event_id: str | None) -> tuple[str, ...]:
    """The ids that make a redelivery a duplicate.

    X-Shopify-Webhook-Id is the same on every retry of one delivery; X-Shopify-Event-Id is the
    same on every delivery of one event (one per subscription). The event id is qualified by the
    topic, because one change in Shopify can fire several topics, and each of those is news.
    """
    ids = []
    if webhook_id and webhook_id.strip():
        ids.append(_bounded(f"shopify-webhook:{webhook_id.strip()}"))
    if event_id and event_id.strip():
        ids.append(_bounded(f"shopify-event:{topic}:{event_id.strip()}"))
    return tuple(ids)


def _bounded(delivery_id: str) -> str:
    if len(delivery_id) <= MAX_DELIVERY_ID:
        return delivery_id
    kind = delivery_id.split(":", 1)[0]
    return f"{kind}:sha256:{hashlib.sha256(delivery_id.encode()).hexdigest()}"

"""Shopify webhooks: POST /v1/webhooks/shopify/{store}, signed with the store's Shopify secret."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from boomerang.ingest import metrics
from boomerang.ingest.adapters.shopify_orders import SqlShopifyOrders
from boomerang.ingest.bootstrap import Container
from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.domain.shopify import TOPICS
from boomerang.ingest.entrypoints.bodies import parse_json, read_body
from boomerang.ingest.entrypoints.openapi import shopify_operation
from boomerang.ingest.entrypoints.reports import log_refused, report_ingested
from boomerang.ingest.service_layer.shopify import Received, ShopifyWebhooks
from boomerang.shared.errors import BoomerangError
from boomerang.shared.logs import get_logger
from boomerang.shared.metrics import counter

log = get_logger(__name__)
ENDPOINT = "shopify"

WEBHOOKS = counter(
    metrics.SERVICE,
    "shopify_webhooks_total",
    "Shopify webhooks by topic (unsupported ones as 'other') and outcome: "
    "published, duplicate, ignored (a topic Boomerang does not use) or refused",
    ("topic", "outcome"),
)

_HEADERS = {
    "X-Shopify-Topic": (True, "orders/create, orders/paid, ...; other topics are ignored"),
    "X-Shopify-Hmac-SHA256": (True, "base64(HMAC-SHA256(raw body, the store's Shopify secret))"),
    "X-Shopify-Webhook-Id": (False, "the same on every retry of a delivery: de-duplicates"),
    "X-Shopify-Event-Id": (False, "the same on every delivery of an event: de-duplicates per topic"),
}
_OPERATION = shopify_operation(_HEADERS)


def shopify_router(wired: Container) -> APIRouter:
    """The webhook route, over the container's store, ingest and clock."""
    webhooks = ShopifyWebhooks(
        stores=wired.stores,
        orders=SqlShopifyOrders(wired.engine),
        ingest=wired.ingest,
        rules=Rules(default_phone_region=wired.settings.default_phone_region),
        clock=wired.clock,
    )
    limit = wired.settings.max_shopify_body_bytes
    router = APIRouter(prefix="/v1/webhooks", tags=["shopify"])

    @router.post("/shopify/{store}", openapi_extra=_OPERATION)
    async def shopify_webhook(store: str, request: Request) -> JSONResponse:
        """Orders (create, paid, cancelled), refunds, customers (create, update) and checkouts
        (create). Other topics are answered 200 and ignored, so Shopify keeps the endpoint."""
        headers = request.headers
        topic = headers.get("x-shopify-topic")
        try:
            body = await read_body(request, limit)
            await webhooks.verify(store, body, headers.get("x-shopify-hmac-sha256"))
            received = await webhooks.receive(
                store,
                topic,
                parse_json(body),
                webhook_id=headers.get("x-shopify-webhook-id"),
                event_id=headers.get("x-shopify-event-id"),
            )
        except BoomerangError as exc:
            metrics.count_refusal(exc.code, ENDPOINT)
            WEBHOOKS.labels(_topic_label(topic), "refused").inc()
            log_refused(exc, ENDPOINT)
            raise
        return JSONResponse(_answer(store, received))

    return router


def _answer(store_id: str, received: Received) -> dict[str, Any]:
    if received.ignored or received.outcome is None:
        WEBHOOKS.labels("other", "ignored").inc()
        log.info("shopify_webhook_ignored", store_id=store_id, topic=received.topic[:100])
        return {"success": True, "ignored": True}
    outcome = received.outcome
    WEBHOOKS.labels(received.topic, "duplicate" if outcome.duplicates else "published").inc()
    report_ingested(
        outcome, endpoint=ENDPOINT, store_id=store_id, rejected_type=lambda _: ENDPOINT, topic=received.topic
    )
    return {"success": True, "deduplicated": outcome.duplicates}


def _topic_label(topic: str | None) -> str:
    return topic if topic in TOPICS else "other"

"""Shopify webhooks through the HTTP app into the real broker: signed, de-duplicated, mapped."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from boomerang.ingest.bootstrap import store_admin
from boomerang.ingest.domain.shopify import sign
from boomerang.ingest.service_layer import stores
from boomerang.ingest.settings import IngestSettings
from boomerang.shared.events import CustomerIdentified, OrderPlaced, OrderRefunded

from ..unit.shopify_fixtures import paid, payload
from .conftest import Shop, make_shop, published, serving, settings_for

pytestmark = pytest.mark.integration

SECRET = "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"
URL = "/v1/webhooks/shopify/shop-a"


def webhook(
    topic: str, body: dict | bytes, *, secret: str = SECRET, webhook_id: str = "", event_id: str = ""
) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-SHA256": sign(raw, secret),
        "X-Shopify-Shop-Domain": "shop-a.myshopify.com",
        "X-Shopify-API-Version": "2024-07",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": event_id,
    }
    return raw, {k: v for k, v in headers.items() if v}


async def post(client, topic: str, body: dict | bytes, url: str = URL, **kw):
    raw, headers = webhook(topic, body, **kw)
    return await client.post(url, content=raw, headers=headers)


@pytest.fixture
async def shop(settings: IngestSettings) -> Shop:
    shop = await make_shop(settings, "shop-a")
    await stores.set_shopify_secret(store_admin(settings), "shop-a", SECRET)
    return shop


async def test_a_signed_order_lands_on_the_topic_as_order_placed(client, shop, settings):
    answer = await post(client, "orders/create", payload("orders_create"), webhook_id="w-1", event_id="e-1")
    assert (answer.status_code, answer.json()) == (200, {"success": True, "deduplicated": 0})

    [(key, envelope)] = await published(settings)
    order = envelope.event()
    assert (key, envelope.source, envelope.type) == (
        "shop-a:207119551",
        "ingest.shopify",
        "commerce.order.placed",
    )
    assert isinstance(order, OrderPlaced)
    assert (order.order_id, order.total, order.lines[1].unit_price) == (
        "5893217321195",
        Decimal("389.69"),
        Decimal("99.50"),
    )


async def test_a_wrong_signature_is_401_and_publishes_nothing(client, shop, settings):
    body = payload("orders_create")
    raw, headers = webhook("orders/create", body)
    cases = [
        {**headers, "X-Shopify-Hmac-SHA256": sign(raw, "not-the-secret")},
        {k: v for k, v in headers.items() if k != "X-Shopify-Hmac-SHA256"},
        {**headers, "X-Shopify-Hmac-SHA256": "%%%"},
    ]
    for bad in cases:
        answer = await client.post(URL, content=raw, headers=bad)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "invalid_signature"
    # A signed body altered on the way is refused too.
    answer = await client.post(URL, content=raw.replace(b"389.69", b"0.01"), headers=headers)
    assert answer.status_code == 401
    # An unknown store answers exactly like a wrong signature.
    unknown = await client.post("/v1/webhooks/shopify/nope", content=raw, headers=headers)
    assert (unknown.status_code, unknown.json()) == (401, answer.json())
    assert await published(settings) == []


async def test_a_redelivery_with_the_same_webhook_id_is_published_once(client, shop, settings):
    update = payload("customers_update")
    first = await post(client, "customers/update", update, webhook_id="w-7", event_id="e-7")
    # Shopify's retry carries the same webhook id; even a body that would map to another event
    # (here: a later consent state) is the same delivery.
    update["email_marketing_consent"]["state"] = "subscribed"
    again = await post(client, "customers/update", update, webhook_id="w-7", event_id="e-8")
    assert (first.json()["deduplicated"], again.json()["deduplicated"]) == (0, 1)
    [(_, envelope)] = await published(settings)
    assert (
        isinstance(envelope.event(), CustomerIdentified) and envelope.event().email_marketing_consent is False
    )


async def test_orders_create_then_orders_paid_publish_one_order_placed(client, shop, settings):
    order = payload("orders_create")
    await post(client, "orders/create", order, webhook_id="w-1", event_id="e-1")
    answer = await post(client, "orders/paid", paid(order), webhook_id="w-2", event_id="e-2")
    assert (answer.status_code, answer.json()["deduplicated"]) == (200, 1)
    assert [e.type for _, e in await published(settings)] == ["commerce.order.placed"]


async def test_a_refund_reaches_the_buyer_of_the_order(client, shop, settings):
    await post(client, "orders/create", payload("orders_create"), webhook_id="w-1")
    answer = await post(client, "refunds/create", payload("refunds_create"), webhook_id="w-2")
    assert answer.status_code == 200
    (_, _), (key, envelope) = await published(settings)
    refund = envelope.event()
    assert key == "shop-a:207119551"
    assert isinstance(refund, OrderRefunded) and refund.amount == Decimal("284.77")


async def test_other_topics_are_answered_200_ignored_and_counted(client, shop, settings):
    answer = await post(client, "products/update", {"id": 632910392, "title": "IPod Nano"}, webhook_id="w-3")
    assert (answer.status_code, answer.json()) == (200, {"success": True, "ignored": True})
    assert await published(settings) == []
    metrics = (await client.get("/metrics")).text
    assert 'boomerang_ingest_shopify_webhooks_total{outcome="ignored",topic="other"}' in metrics


async def test_a_signed_but_bad_payload_is_400_with_its_field(client, shop, settings):
    body = payload("orders_create")
    body["line_items"][1]["price"] = "ninety"
    answer = await post(client, "orders/create", body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_field"
    assert answer.json()["error"]["field"] == "line_items[1].price"
    malformed = await post(client, "orders/create", b'{"id": 1,')
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, "malformed_json")
    assert await published(settings) == []


async def test_bodies_over_the_limit_are_400(kafka_bootstrap, topic_prefix, tmp_path: Path):
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path, max_shopify_body_bytes=4096)
    await make_shop(settings, "shop-a")
    await stores.set_shopify_secret(store_admin(settings), "shop-a", SECRET)
    async with serving(settings) as client:
        order = payload("orders_create")  # about 9 KB
        answer = await post(client, "orders/create", order)
        error = answer.json()["error"]
        assert (answer.status_code, error["code"], error["field"]) == (400, "payload_too_large", "body")
        assert "4 KB (4,096 bytes)" in error["message"]
        small = payload("orders_create_guest")
        small["line_items"] = small["line_items"][:1]
        small.pop("billing_address")
        assert len(json.dumps(small)) < 4096
        assert (await post(client, "orders/create", small)).status_code == 200
    assert len(await published(settings)) == 1

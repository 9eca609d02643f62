"""The Segment API against the real broker: what lands on the topic, and what never does."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from boomerang.ingest.bootstrap import store_admin
from boomerang.ingest.service_layer import stores
from boomerang.shared.events import CustomerIdentified, OrderPlaced, PageViewed

from .conftest import basic, make_shop, published, raw_post

pytestmark = pytest.mark.integration

IDENTIFY = {
    "userId": "cust-1",
    "messageId": "msg-identify-1",
    "timestamp": "2025-03-01T10:00:00Z",
    "traits": {
        "email": "ada@example.com",
        "phone": "(202) 555-0143",
        "firstName": "Ada",
        "sms_consent": True,
    },
}
ORDER = {
    "userId": "cust-1",
    "messageId": "msg-order-1",
    "event": "Order Completed",
    "timestamp": "2025-03-01T10:05:00Z",
    "properties": {
        "order_id": "1001",
        "total": 27.5,
        "currency": "USD",
        "products": [{"product_id": "mug", "name": "Mug", "price": 12.75, "quantity": 2}],
    },
}


async def test_identify_and_order_land_on_the_topic_keyed_by_customer(client, shop, settings):
    for path, body in (("/v1/identify", IDENTIFY), ("/v1/track", ORDER)):
        answer = await client.post(path, json=body, headers=basic(shop.key))
        assert (answer.status_code, answer.json()) == (200, {"success": True})

    on_topic = await published(settings)
    assert [key for key, _ in on_topic] == ["shop-a:cust-1", "shop-a:cust-1"]  # one partition, in order
    (_, identified), (_, ordered) = on_topic
    assert (identified.id, identified.store_id, identified.source) == ("msg-identify-1", "shop-a", "ingest")
    assert identified.event() == CustomerIdentified(
        email="ada@example.com",
        phone="+12025550143",
        first_name="Ada",
        sms_marketing_consent=True,
        sms_marketing_consent_source="segment",
        sms_marketing_consent_at=identified.time,
    )
    order = ordered.event()
    assert isinstance(order, OrderPlaced) and ordered.id == "msg-order-1"
    assert (order.order_id, order.total, order.lines[0].unit_price) == (
        "1001",
        Decimal("27.5"),
        Decimal("12.75"),
    )
    assert ordered.time.isoformat() == "2025-03-01T10:05:00+00:00"


async def test_the_write_key_may_come_in_the_body(client, shop, settings):
    answer = await client.post("/v1/page", json={"writeKey": shop.key, "anonymousId": "a-1", "name": "Home"})
    assert answer.status_code == 200
    [(key, envelope)] = await published(settings)
    assert (key, envelope.event()) == ("shop-a:anon:a-1", PageViewed(name="Home"))


async def test_rejected_requests_get_their_code_and_field_and_publish_nothing(client, shop, settings):
    revoked = await stores.add_key(store_admin(settings), "shop-a", chosen_key=None, now=_now())
    await stores.revoke_key(store_admin(settings), revoked.key_id, now=_now())
    page = {"userId": "u1"}
    cases = [
        ("/v1/page", basic("wk_not-a-key"), json.dumps(page), 401, "invalid_write_key", None),
        ("/v1/page", basic(revoked.key), json.dumps(page), 401, "invalid_write_key", None),
        ("/v1/page", {}, json.dumps(page), 401, "missing_write_key", None),
        ("/v1/page", {}, json.dumps({**page, "writeKey": "wk_wrong"}), 401, "invalid_write_key", None),
        ("/v1/track", basic(shop.key), '{"userId": "u1", "event": ', 400, "malformed_json", None),
        (
            "/v1/track",
            basic(shop.key),
            json.dumps({"event": "Order Completed"}),
            400,
            "missing_identity",
            "userId",
        ),
        (
            "/v1/identify",
            basic(shop.key),
            json.dumps({"userId": "u1", "traits": {"phone": "12"}}),
            400,
            "invalid_phone",
            "traits.phone",
        ),
        (
            "/v1/identify",
            basic(shop.key),
            json.dumps({"userId": "u1", "traits": {"x": "y" * 40_000}}),
            400,
            "payload_too_large",
            "body",
        ),
        (
            "/v1/batch",
            basic(shop.key),
            json.dumps({"batch": [page] * 2501}),
            400,
            "too_many_events",
            "batch",
        ),
        (
            "/v1/batch",
            basic(shop.key),
            json.dumps({"batch": [{**page, "properties": {"x": "y" * 30_000}}] * 18}),
            400,
            "payload_too_large",
            "body",
        ),
        (
            "/v1/batch",
            basic(shop.key),
            json.dumps({"batch": [{"type": "page"}]}),
            400,
            "missing_identity",
            "batch[0].userId",
        ),
    ]
    for path, headers, body, status, code, field in cases:
        answer = await client.post(
            path, content=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert (answer.status_code, answer.json()["error"]["code"], answer.json()["error"]["field"]) == (
            status,
            code,
            field,
        ), (path, body[:80])
    # Declared too large: refused on the header alone, without waiting for the 40 KB.
    lying = await raw_post(
        str(client.base_url), "/v1/page", {**basic(shop.key), "Content-Length": "40000"}, b"{}"
    )
    assert lying.startswith(b"HTTP/1.1 400") and b"payload_too_large" in lying

    assert await published(settings) == []
    metrics = (await client.get("/metrics")).text
    assert 'boomerang_ingest_events_rejected_total{code="invalid_phone",event_type="identify"}' in metrics


async def test_a_key_writes_only_its_own_store(client, shop, settings):
    other = await make_shop(settings, "shop-b")
    body = {**IDENTIFY, "writeKey": other.key, "store_id": "shop-b", "messageId": "m-a"}
    answer = await client.post("/v1/identify", json=body, headers=basic(shop.key))
    assert answer.status_code == 200
    answer = await client.post(
        "/v1/identify", json={**IDENTIFY, "messageId": "m-b"}, headers=basic(other.key)
    )
    assert answer.status_code == 200
    on_topic = await published(settings)
    assert sorted((e.id, e.store_id, key) for key, e in on_topic) == [
        ("m-a", "shop-a", "shop-a:cust-1"),
        ("m-b", "shop-b", "shop-b:cust-1"),
    ]


async def test_a_repeated_message_id_is_published_once(client, shop, settings):
    first = await client.post("/v1/track", json=ORDER, headers=basic(shop.key))
    again = await client.post("/v1/track", json=ORDER, headers=basic(shop.key))
    racing = await asyncio.gather(
        *(
            client.post("/v1/track", json={**ORDER, "messageId": "msg-race"}, headers=basic(shop.key))
            for _ in range(5)
        )
    )
    batch = await client.post(
        "/v1/batch", json={"batch": [{**ORDER, "type": "track"}] * 3}, headers=basic(shop.key)
    )
    assert [a.status_code for a in (first, again, *racing, batch)] == [200] * 8
    ids = [{"index": i, "id": "msg-order-1"} for i in range(3)]
    assert batch.json() == {"success": True, "accepted": 3, "deduplicated": 3, "rejected": [], "ids": ids}

    on_topic = await published(settings)
    assert sorted(e.id for _, e in on_topic) == ["msg-order-1", "msg-race"]
    metrics = (await client.get("/metrics")).text
    assert "boomerang_ingest_events_deduplicated_total" in metrics


async def test_a_batch_publishes_the_valid_calls_and_reports_the_rest(client, shop, settings):
    body = {
        "batch": [
            {**IDENTIFY, "type": "identify"},
            {
                "type": "track",
                "userId": "u2",
                "event": "Order Completed",
                "properties": {
                    "order_id": "9",
                    "total": 1,
                    "products": [{"product_id": "p", "price": "free"}],
                },
            },
            {"type": "page", "anonymousId": "a-9", "properties": {"path": "/cart"}},
            {"type": "ping", "userId": "u3"},
        ]
    }
    answer = await client.post("/v1/batch", json=body, headers=basic(shop.key))
    assert answer.status_code == 200
    assert answer.json()["accepted"] == 2
    assert [i["index"] for i in answer.json()["ids"]] == [0, 2]
    assert [(r["index"], r["code"], r["field"]) for r in answer.json()["rejected"]] == [
        (1, "invalid_field", "batch[1].properties.products[0].price"),
        (3, "unsupported_type", "batch[3].type"),
    ]
    on_topic = await published(settings)
    assert sorted(key for key, _ in on_topic) == ["shop-a:anon:a-9", "shop-a:cust-1"]


async def test_a_call_over_32_kb_inside_a_batch_is_refused_alone(client, shop, settings):
    small = {"type": "page", "userId": "u1", "messageId": "small-1"}
    large = {"type": "track", "userId": "u2", "event": "Big", "properties": {"blob": "x" * 33_000}}
    just_under = {"type": "track", "userId": "u3", "event": "Fits", "properties": {"blob": "x" * 32_000}}
    body = {"batch": [small, large, just_under]}
    answer = await client.post("/v1/batch", json=body, headers=basic(shop.key))
    assert answer.status_code == 200
    assert answer.json()["accepted"] == 2
    assert [(r["index"], r["code"], r["field"]) for r in answer.json()["rejected"]] == [
        (1, "payload_too_large", "batch[1]")
    ]
    on_topic = await published(settings)
    assert sorted(key for key, _ in on_topic) == ["shop-a:u1", "shop-a:u3"]


async def test_ops_endpoints(client, shop):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()["checks"]) == (200, {"database": True, "kafka": True})
    await client.post("/v1/page", json={"userId": "u1"}, headers=basic(shop.key))
    metrics = (await client.get("/metrics")).text
    for name in (
        'boomerang_ingest_events_accepted_total{event_type="commerce.page.viewed"}',
        'boomerang_ingest_events_published_total{event_type="commerce.page.viewed"}',
        'boomerang_ingest_request_seconds_bucket{endpoint="/v1/page"',
        "boomerang_ingest_producer_errors_total",
    ):
        assert name in metrics


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)

"""A key for one store can never write another store's events, on any endpoint.

Store A's credentials are sent everywhere with bodies that name store B every way a body can
(`writeKey` of B, `store_id`, `storeId`, `store`, B in the URL). Whatever each endpoint answers,
what lands in Kafka (every topic) belongs to A, never to B.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from boomerang.ingest.bootstrap import store_admin
from boomerang.ingest.domain.shopify import sign
from boomerang.ingest.service_layer import stores
from boomerang.shared.events import Envelope
from boomerang.shared.kafka.topics import ALL_TOPICS

from ..unit.shopify_fixtures import payload
from .conftest import basic, make_shop

pytestmark = pytest.mark.integration

SECRET_A = "shpss_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
SECRET_B = "shpss_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
CLAIMS_B = {"store_id": "shop-b", "storeId": "shop-b", "store": "shop-b", "context": {"store_id": "shop-b"}}


def segment(kind: str, n: int) -> dict:
    return {
        "type": kind,
        "userId": f"cust-{n}",
        "messageId": f"m-{kind}-{n}",
        "event": "Order Completed",
        "name": "Home",
        "groupId": "acme",
        "previousId": f"anon-{n}",
        "traits": {"email": "ada@example.com"},
        "properties": {"order_id": f"o-{n}", "total": "10.00"},
        **CLAIMS_B,
    }


def native(n: int) -> dict:
    return {
        "id": f"native-{n}",
        "type": "commerce.page.viewed",
        "customer_id": f"cust-{n}",
        "data": {"url": "https://shop.example/"},
    }


def bodies(n: int) -> list[tuple[str, dict, bool]]:
    """(path, body, accepted) for every POST endpoint that takes a write key; the test fails on an
    endpoint missing here. The native API refuses fields it does not know, so a native body that
    names store B is refused whole (accepted False), and a plain one must land under A."""
    calls = [
        (f"/v1/{kind}", segment(kind, n), True)
        for kind in ("identify", "track", "page", "screen", "group", "alias")
    ]
    return [
        *calls,
        ("/v1/batch", {"batch": [segment("track", n + 100), segment("identify", n + 200)], **CLAIMS_B}, True),
        ("/v1/events", {"events": [native(n), native(n + 100)]}, True),
        ("/v1/events", {**native(n + 300), **CLAIMS_B}, False),
        ("/v1/events", {"events": [{**native(n + 400), **CLAIMS_B}]}, False),
    ]


async def everything_published(bootstrap: str, prefix: str) -> list[Envelope]:
    """Every message on every topic of the catalogue under the test's prefix, up to the end offsets."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(spec.named(prefix), p) for spec in ALL_TOPICS for p in range(spec.partitions)
        ]
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        records = []
        async with asyncio.timeout(30):
            while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                batch = await consumer.getmany(*partitions, timeout_ms=200)
                records += [r for rs in batch.values() for r in rs]
        return [Envelope.from_bytes(r.value) for r in records]
    finally:
        await consumer.stop()


async def test_store_a_can_never_write_store_b_events(settings, shop, client):
    admin = store_admin(settings)
    shop_a = shop
    shop_b = await make_shop(settings, "shop-b")
    await stores.set_shopify_secret(admin, "shop-a", SECRET_A)
    await stores.set_shopify_secret(admin, "shop-b", SECRET_B)

    paths = (await client.get("/openapi.json")).json()["paths"]
    post_routes = {path for path, operations in paths.items() if "post" in operations and "{" not in path}
    assert post_routes == {path for path, _, _ in bodies(0)}, "a new endpoint: add a body for it here"

    answers = []
    # A's key as Basic auth, B's key in the body: the header decides.
    for path, body, accepted in bodies(1):
        answer = await client.post(path, json={**body, "writeKey": shop_b.key}, headers=basic(shop_a.key))
        answers.append((path, "header", accepted, answer.status_code))
    # A's key in the body only, the body naming B every other way.
    for path, body, accepted in bodies(1000):
        answer = await client.post(path, json={**body, "writeKey": shop_a.key})
        answers.append((path, "body", accepted, answer.status_code))
    # Routes with the store in the URL: B's URL with A's credentials.
    erasure = await client.delete("/v1/customers/shop-b/cust-1", headers=basic(shop_a.key))
    assert erasure.status_code in (401, 403, 404), erasure.text

    # Shopify: a body signed with A's secret, posted to B's URL, is refused; so is A's write key.
    order = json.dumps(payload("orders_create")).encode()
    signed_by_a = {"X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-SHA256": sign(order, SECRET_A)}
    to_b = await client.post("/v1/webhooks/shopify/shop-b", content=order, headers=signed_by_a)
    keyed = await client.post(
        "/v1/webhooks/shopify/shop-b",
        content=order,
        headers={**basic(shop_a.key), "X-Shopify-Topic": "orders/create"},
    )
    assert (to_b.status_code, keyed.status_code) == (401, 401)
    to_a = await client.post("/v1/webhooks/shopify/shop-a", content=order, headers=signed_by_a)
    assert to_a.status_code == 200

    landed = await everything_published(settings.common.kafka_bootstrap, settings.common.topic_prefix)
    assert [e for e in landed if e.store_id != "shop-a" or not e.key.startswith("shop-a:")] == []
    # The requests were real: every endpoint accepted A's events under A (or refused them whole).
    assert [(p, how) for p, how, accepted, status in answers if status != (200 if accepted else 400)] == []
    accepted_requests = sum(1 for *_, accepted, _ in answers if accepted)
    assert len({e.id for e in landed}) >= accepted_requests + 1

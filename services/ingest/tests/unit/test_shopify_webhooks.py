"""The Shopify use case over fakes: who may sign, what is a repeat, whose refund it is."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.domain.rejections import Rejected
from boomerang.ingest.domain.shopify import sign
from boomerang.ingest.domain.stores import Store
from boomerang.ingest.service_layer.shopify import InvalidSignature, ShopifyWebhooks, delivery_ids

from .fakes import FakePublisher, FakeStores, fake_ingest
from .shopify_fixtures import paid, payload

NOW = datetime(2024, 9, 1, 12, tzinfo=timezone.utc)
SECRET = "shpss_0123456789abcdef0123456789abcdef"


class FakeShopifyOrders:
    def __init__(self) -> None:
        self.customers: dict[tuple[str, str], str] = {}

    async def remember(self, store_id: str, order_id: str, customer_id: str, at: datetime) -> None:
        self.customers[(store_id, order_id)] = customer_id

    async def customer_of(self, store_id: str, order_id: str) -> str | None:
        return self.customers.get((store_id, order_id))


@pytest.fixture
def stores() -> FakeStores:
    repo = FakeStores()
    repo.stores["shop-a"] = Store("shop-a", "A", NOW, shopify_secret=SECRET)
    repo.stores["shop-b"] = Store("shop-b", "B", NOW, shopify_secret="another-secret-of-shop-b")
    repo.stores["no-shopify"] = Store("no-shopify", "C", NOW)
    return repo


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def orders() -> FakeShopifyOrders:
    return FakeShopifyOrders()


@pytest.fixture
def webhooks(stores, publisher, orders) -> ShopifyWebhooks:
    return ShopifyWebhooks(
        stores=stores, orders=orders, ingest=fake_ingest(publisher, NOW), rules=Rules(), clock=lambda: NOW
    )


async def test_only_the_stores_own_secret_signs_its_webhooks(webhooks):
    body = json.dumps(payload("orders_create")).encode()
    await webhooks.verify("shop-a", body, sign(body, SECRET))
    refused = [
        ("shop-a", sign(body, "another-secret-of-shop-b")),  # B's secret on A's URL
        ("shop-b", sign(body, SECRET)),  # A's secret on B's URL
        ("shop-a", None),
        ("shop-a", "garbage"),
        ("no-shopify", sign(body, SECRET)),  # a store without a secret takes no webhooks
        ("nope", sign(body, SECRET)),  # unknown store: the same answer
        ("bad:id\n", sign(body, SECRET)),
    ]
    for store_id, signature in refused:
        with pytest.raises(InvalidSignature) as caught:
            await webhooks.verify(store_id, body, signature)
        assert (caught.value.status_code, caught.value.code) == (401, "invalid_signature")


async def test_a_webhook_is_published_once_however_often_shopify_delivers_it(webhooks, publisher):
    order = payload("orders_create")
    first = await webhooks.receive("shop-a", "orders/create", order, webhook_id="w-1", event_id="e-1")
    again = await webhooks.receive("shop-a", "orders/create", order, webhook_id="w-1", event_id="e-1")
    assert (len(first.outcome.published), again.outcome.duplicates) == (1, 1)
    [envelope] = publisher.published
    assert (envelope.type, envelope.key) == ("commerce.order.placed", "shop-a:207119551")


async def test_created_then_paid_is_one_order_placed(webhooks, publisher):
    order = payload("orders_create")
    await webhooks.receive("shop-a", "orders/create", order, webhook_id="w-1", event_id="e-1")
    settled = await webhooks.receive("shop-a", "orders/paid", paid(order), webhook_id="w-2", event_id="e-2")
    assert settled.outcome.duplicates == 1 and len(publisher.published) == 1


async def test_paid_before_created_publishes_the_same_order_once(webhooks, publisher):
    order = payload("orders_create")
    await webhooks.receive("shop-a", "orders/paid", paid(order), webhook_id="w-2")
    await webhooks.receive("shop-a", "orders/create", order, webhook_id="w-1")
    assert [e.type for e in publisher.published] == ["commerce.order.placed"]


async def test_the_same_event_id_on_another_topic_is_not_a_repeat(webhooks, publisher):
    await webhooks.receive("shop-a", "orders/create", payload("orders_create"), event_id="e-1")
    await webhooks.receive("shop-a", "customers/create", payload("customers_create"), event_id="e-1")
    assert [e.type for e in publisher.published] == ["commerce.order.placed", "commerce.customer.identified"]


async def test_a_refund_reaches_the_customer_of_its_order(webhooks, publisher):
    await webhooks.receive("shop-a", "orders/create", payload("orders_create"))
    await webhooks.receive("shop-a", "refunds/create", payload("refunds_create"))
    assert [e.key for e in publisher.published] == ["shop-a:207119551", "shop-a:207119551"]


async def test_a_guest_refund_follows_the_guest_order_and_an_unknown_order_keys_by_itself(
    webhooks, publisher
):
    guest_order = payload("orders_create_guest")
    await webhooks.receive("shop-a", "orders/create", guest_order)
    refund = payload("refunds_create")
    refund["order_id"] = guest_order["id"]
    await webhooks.receive("shop-a", "refunds/create", refund)
    unknown = payload("refunds_create")
    unknown.update(id=1, order_id=42)
    await webhooks.receive("shop-a", "refunds/create", unknown)
    assert [e.customer_id for e in publisher.published] == [
        "anon:shopify-checkout:123123123",
        "anon:shopify-checkout:123123123",
        "anon:shopify-order:42",
    ]


async def test_orders_are_remembered_per_store(webhooks, orders, publisher):
    await webhooks.receive("shop-a", "orders/create", payload("orders_create"))
    await webhooks.receive("shop-b", "refunds/create", payload("refunds_create"))
    assert orders.customers == {("shop-a", "5893217321195"): "207119551"}
    assert publisher.published[-1].key == "shop-b:anon:shopify-order:5893217321195"


async def test_other_topics_are_ignored_and_publish_nothing(webhooks, publisher):
    received = await webhooks.receive("shop-a", "products/update", {"id": 1}, webhook_id="w-9")
    assert (received.ignored, received.outcome, publisher.published) == (True, None, [])


async def test_a_missing_topic_is_a_bad_request(webhooks):
    with pytest.raises(Rejected) as caught:
        await webhooks.receive("shop-a", None, {})
    assert (caught.value.code, caught.value.field) == ("missing_field", "X-Shopify-Topic")


def test_delivery_ids_are_prefixed_and_bounded():
    assert delivery_ids("orders/create", "b54557e4-8a5f", "3e2a-11") == (
        "shopify-webhook:b54557e4-8a5f",
        "shopify-event:orders/create:3e2a-11",
    )
    assert delivery_ids("orders/create", None, " ") == ()
    [long] = delivery_ids("orders/create", "x" * 500, None)
    assert len(long) <= 128 and long.startswith("shopify-webhook:sha256:")
    assert delivery_ids("orders/create", "x" * 500, None) != delivery_ids("orders/create", "x" * 501, None)

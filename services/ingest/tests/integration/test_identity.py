"""Identity stitching through the HTTP app and the real broker, and the calls that carry it."""

from __future__ import annotations

import pytest

from boomerang.shared.events import (
    CustomerGrouped,
    CustomerIdentified,
    IdentityLinked,
    PageViewed,
    ProductAddedToCart,
    ProductViewed,
    ScreenViewed,
)

from .conftest import basic, commerce_events

pytestmark = pytest.mark.integration

PAGE = {"anonymousId": "a-1", "messageId": "m-page", "name": "Home", "timestamp": "2025-03-01T10:00:00Z"}
VIEW = {
    "anonymousId": "a-1",
    "messageId": "m-view",
    "event": "Product Viewed",
    "timestamp": "2025-03-01T10:01:00Z",
    "properties": {"product_id": "mug", "price": 12.75},
}
IDENTIFY = {
    "userId": "cust-1",
    "anonymousId": "a-1",
    "messageId": "m-identify",
    "timestamp": "2025-03-01T10:02:00Z",
    "traits": {"email": "ada@example.com", "email_consent": True, "email_consent_source": "signup form"},
}
LATER = {
    "anonymousId": "a-1",
    "messageId": "m-later",
    "event": "Product Added",
    "timestamp": "2025-03-01T10:03:00Z",
    "properties": {"product_id": "mug", "price": 12.75, "cart_id": "cart-1"},
}


def by_key(published) -> dict[str, list[tuple[str, str, str]]]:
    """(type, source, id) per key, in partition order (one key is always one partition)."""
    keyed: dict[str, list[tuple[str, str, str]]] = {}
    for key, envelope in published:
        keyed.setdefault(key, []).append((envelope.type, envelope.source, envelope.id))
    return keyed


async def test_identify_stitches_earlier_and_later_anonymous_events_to_the_customer(client, shop, settings):
    bootstrap, prefix = settings.common.kafka_bootstrap, settings.common.topic_prefix
    for path, body in (
        ("/v1/page", PAGE),
        ("/v1/track", VIEW),
        ("/v1/identify", IDENTIFY),
        ("/v1/track", LATER),
    ):
        answer = await client.post(path, json=body, headers=basic(shop.key))
        assert (answer.status_code, answer.json()) == (200, {"success": True}), path

    published = await commerce_events(bootstrap, prefix)
    keyed = by_key(published)
    assert set(keyed) == {"shop-a:anon:a-1", "shop-a:cust-1"}
    assert keyed["shop-a:anon:a-1"] == [
        ("commerce.page.viewed", "ingest", "m-page"),
        ("commerce.product.viewed", "ingest", "m-view"),
    ]
    customer = [(e.type, e.source, e.id, e) for key, e in published if key == "shop-a:cust-1"]
    assert [(kind, source) for kind, source, _, _ in customer] == [
        ("commerce.identity.linked", "ingest.identity"),
        ("commerce.page.viewed", "ingest.identity"),
        ("commerce.product.viewed", "ingest.identity"),
        ("commerce.customer.identified", "ingest"),
        ("commerce.product.added_to_cart", "ingest"),
    ]
    linked, page_again, view_again, identified, later = (e for *_, e in customer)
    assert linked.event() == IdentityLinked(previous_id="anon:a-1", via="identify")
    # The history again, as it happened, under new ids a retry would reproduce.
    assert (
        page_again.event() == PageViewed(name="Home")
        and page_again.time.isoformat() == "2025-03-01T10:00:00+00:00"
    )
    assert isinstance(view_again.event(), ProductViewed) and view_again.customer_id == "cust-1"
    assert {page_again.id, view_again.id}.isdisjoint({"m-page", "m-view"})
    assert isinstance(identified.event(), CustomerIdentified) and identified.id == "m-identify"
    assert identified.event().email_marketing_consent_source == "signup form"
    assert (later.id, later.customer_id, type(later.event())) == ("m-later", "cust-1", ProductAddedToCart)

    # The same identify again, retried or re-sent: nothing new on the topic.
    again = await client.post("/v1/identify", json=IDENTIFY, headers=basic(shop.key))
    resent = await client.post(
        "/v1/identify", json={**IDENTIFY, "messageId": "m-identify-2"}, headers=basic(shop.key)
    )
    assert again.status_code == resent.status_code == 200
    now = [(key, e.id) for key, e in await commerce_events(bootstrap, prefix)]
    assert len(now) == len(published) + 1  # partitions interleave differently on each read
    assert set(now) - {(key, e.id) for key, e in published} == {("shop-a:cust-1", "m-identify-2")}


async def test_an_alias_in_a_batch_stitches_a_visitor_to_a_customer(client, shop, settings):
    bootstrap, prefix = settings.common.kafka_bootstrap, settings.common.topic_prefix
    await client.post("/v1/page", json={**PAGE, "anonymousId": "v-9"}, headers=basic(shop.key))
    body = {
        "batch": [
            {"type": "alias", "previousId": "v-9", "userId": "cust-9", "messageId": "m-alias"},
            {"type": "screen", "anonymousId": "v-9", "name": "Basket", "messageId": "m-screen"},
            {
                "type": "group",
                "userId": "cust-9",
                "groupId": "acme",
                "traits": {"plan": "b2b"},
                "messageId": "m-group",
            },
        ]
    }
    answer = await client.post("/v1/batch", json=body, headers=basic(shop.key))
    ids = [{"index": i, "id": m} for i, m in enumerate(("m-alias", "m-screen", "m-group"))]
    assert answer.json() == {"success": True, "accepted": 3, "deduplicated": 0, "rejected": [], "ids": ids}

    keyed = by_key(await commerce_events(bootstrap, prefix))
    assert [kind for kind, _, _ in keyed["shop-a:anon:v-9"]] == ["commerce.page.viewed"]
    assert [(kind, source) for kind, source, _ in keyed["shop-a:cust-9"]] == [
        ("commerce.page.viewed", "ingest.identity"),
        ("commerce.identity.linked", "ingest"),  # the alias call itself
        ("commerce.screen.viewed", "ingest"),  # anonymous, but its visitor is cust-9 now
        ("commerce.customer.grouped", "ingest"),
    ]


async def test_screen_group_and_alias_have_their_own_routes(client, shop, settings):
    calls = [
        ("/v1/screen", {"userId": "u-1", "name": "Checkout", "properties": {"step": 2}}),
        ("/v1/group", {"userId": "u-1", "groupId": 7, "traits": {"name": "Acme"}}),
        ("/v1/alias", {"userId": "u-1", "previousId": "old-1"}),
    ]
    for path, body in calls:
        answer = await client.post(path, json=body, headers=basic(shop.key))
        assert answer.status_code == 200, path
    refused = await client.post("/v1/group", json={"userId": "u-1"}, headers=basic(shop.key))
    assert (refused.status_code, refused.json()["error"]["code"], refused.json()["error"]["field"]) == (
        400,
        "missing_field",
        "groupId",
    )
    published = await commerce_events(settings.common.kafka_bootstrap, settings.common.topic_prefix)
    assert sorted((type(e.event()).__name__, key) for key, e in published) == [
        ("CustomerGrouped", "shop-a:u-1"),
        ("IdentityLinked", "shop-a:u-1"),
        ("ScreenViewed", "shop-a:u-1"),
    ]
    events = {type(e.event()): e.event() for _, e in published}
    assert events[ScreenViewed] == ScreenViewed(name="Checkout", properties={"step": 2})
    assert events[CustomerGrouped] == CustomerGrouped(group_id="7", traits={"name": "Acme"})
    assert events[IdentityLinked] == IdentityLinked(previous_id="old-1", via="alias")

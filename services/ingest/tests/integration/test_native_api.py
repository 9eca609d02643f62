"""The native API, the published JSON Schemas and erasure requests, against the real broker."""

from __future__ import annotations

from decimal import Decimal

import jsonschema
import pytest

from boomerang.ingest.domain.native import NATIVE_EVENTS
from boomerang.shared.events import ErasureRequested, OrderPlaced, PageViewed
from boomerang.shared.kafka import PRIVACY_ERASURE

from .conftest import basic, make_shop, published, serving, settings_for

pytestmark = pytest.mark.integration

ORDER = {
    "id": "order-1001",
    "type": "commerce.order.placed",
    "time": "2025-03-01T10:05:00Z",
    "customer_id": "cust-1",
    "data": {
        "order_id": "1001",
        "placed_at": "2025-03-01T10:05:00Z",
        "total": "27.50",
        "lines": [{"product_id": "mug", "name": "Mug", "unit_price": "13.75", "quantity": 2}],
    },
}
PAGE = {"type": "commerce.page.viewed", "customer_id": "cust-2", "data": {"url": "https://shop.example/"}}


async def test_a_single_event_is_published_as_sent(client, shop, settings):
    answer = await client.post("/v1/events", json=ORDER, headers=basic(shop.key))

    assert answer.status_code == 200
    assert answer.json() == {
        "success": True,
        "accepted": 1,
        "deduplicated": 0,
        "rejected": [],
        "ids": [{"index": 0, "id": "order-1001"}],
    }
    [(key, envelope)] = await published(settings)
    assert (key, envelope.id, envelope.store_id, envelope.source) == (
        "shop-a:cust-1",
        "order-1001",
        "shop-a",
        "ingest.native",
    )
    order = envelope.event()
    assert isinstance(order, OrderPlaced)
    assert (order.total, order.lines[0].unit_price, order.currency) == (
        Decimal("27.50"),
        Decimal("13.75"),
        "USD",
    )


async def test_a_list_publishes_its_valid_events_and_reports_the_rest(client, shop, settings):
    bad_total = {**ORDER, "id": "order-bad", "data": {**ORDER["data"], "total": "lots"}}
    body = {"events": [ORDER, bad_total, PAGE, {**PAGE, "type": "commerce.nope"}]}
    answer = await client.post("/v1/events", json=body, headers=basic(shop.key))

    assert answer.status_code == 200
    result = answer.json()
    assert (result["accepted"], [r["index"] for r in result["rejected"]]) == (2, [1, 3])
    assert [(r["code"], r["field"]) for r in result["rejected"]] == [
        ("invalid_field", "events[1].data.total"),
        ("unsupported_type", "events[3].type"),
    ]
    assert result["ids"][0] == {"index": 0, "id": "order-1001"} and result["ids"][1]["index"] == 2
    events = await published(settings)
    assert sorted(key for key, _ in events) == ["shop-a:cust-1", "shop-a:cust-2"]
    page = next(e for _, e in events if e.type == "commerce.page.viewed")
    assert page.id == result["ids"][1]["id"] and page.event() == PageViewed(url="https://shop.example/")


async def test_an_unknown_type_or_invalid_data_is_a_400_with_the_field(client, shop, settings):
    cases = [
        ({**ORDER, "type": "commerce.order.teleported"}, "unsupported_type", "type"),
        ({**ORDER, "type": "segments.customer.changed"}, "unsupported_type", "type"),
        (
            {
                **ORDER,
                "data": {**ORDER["data"], "lines": [{"product_id": "mug", "name": "Mug", "unit_price": -1}]},
            },
            "invalid_field",
            "data.lines[0].unit_price",
        ),
        ({"events": [{**ORDER, "data": {"order_id": "1"}}]}, "missing_field", "events[0].data.placed_at"),
    ]
    for body, code, field in cases:
        answer = await client.post("/v1/events", json=body, headers=basic(shop.key))
        result = answer.json()
        assert answer.status_code == 400, body
        assert (result["error"]["code"], result["error"]["field"]) == (code, field)
        assert [(r["index"], r["code"], r["field"]) for r in result["rejected"]] == [(0, code, field)]
    assert await published(settings) == []
    metrics = (await client.get("/metrics")).text
    assert 'boomerang_ingest_events_rejected_total{code="unsupported_type",event_type="native"}' in metrics
    assert 'code="invalid_field",event_type="commerce.order.placed"' in metrics


async def test_a_repeated_id_is_published_once(client, shop, settings):
    first = await client.post("/v1/events", json=ORDER, headers=basic(shop.key))
    again = await client.post("/v1/events", json={"events": [ORDER, ORDER]}, headers=basic(shop.key))

    assert [first.status_code, again.status_code] == [200, 200]
    assert (again.json()["accepted"], again.json()["deduplicated"]) == (2, 2)
    assert [e.id for _, e in await published(settings)] == ["order-1001"]


async def test_the_store_comes_from_the_key_and_keys_are_required(client, shop, settings):
    other = await make_shop(settings, "shop-b")
    in_body = await client.post("/v1/events", json={"events": [PAGE], "writeKey": other.key})
    missing = await client.post("/v1/events", json=PAGE)
    wrong = await client.post("/v1/events", json=PAGE, headers=basic("wk_wrong"))

    assert in_body.status_code == 200
    assert [(a.status_code, a.json()["error"]["code"]) for a in (missing, wrong)] == [
        (401, "missing_write_key"),
        (401, "invalid_write_key"),
    ]
    assert [(key, e.store_id) for key, e in await published(settings)] == [("shop-b:cust-2", "shop-b")]


async def test_requests_over_the_limits_are_400_and_name_the_limit(kafka_bootstrap, topic_prefix, tmp_path):
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path, max_event_bytes=1024, max_batch_events=3)
    shop = await make_shop(settings, "shop-a")
    big = {**PAGE, "data": {"title": "x" * 2000}}
    async with serving(settings) as client:
        single = await client.post("/v1/events", json=big, headers=basic(shop.key))
        many = await client.post("/v1/events", json={"events": [PAGE] * 4}, headers=basic(shop.key))
        listed = await client.post("/v1/events", json={"events": [big]}, headers=basic(shop.key))

    errors = [(a.status_code, a.json()["error"]) for a in (single, many)]
    assert [(status, error["code"], error["field"]) for status, error in errors] == [
        (400, "payload_too_large", "body"),
        (400, "too_many_events", "events"),
    ]
    assert "1 KB (1,024 bytes)" in errors[0][1]["message"]
    assert "more than 3 events" in errors[1][1]["message"]
    assert listed.status_code == 200  # in a list, the batch limits apply
    assert len(await published(settings)) == 1


async def test_schemas_are_published_for_every_native_type(client, shop):
    index = (await client.get("/v1/schemas")).json()["schemas"]
    assert [entry["type"] for entry in index] == list(NATIVE_EVENTS)

    order = next(entry for entry in index if entry["type"] == "commerce.order.placed")
    schema = (await client.get(order["url"])).json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["required"]) == {"order_id", "placed_at", "total"}
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(ORDER["data"])) == []
    [error] = validator.iter_errors({**ORDER["data"], "lines": [{"name": "Mug", "unit_price": "1"}]})
    assert list(error.absolute_path) == ["lines", 0]

    unknown = await client.get("/v1/schemas/commerce.nope")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_event_type")


async def test_openapi_describes_the_native_union_and_the_segment_bodies(client):
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]

    native_body = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert native_body["schema"]["oneOf"] == [
        {"$ref": "#/components/schemas/NativeEvent"},
        {"$ref": "#/components/schemas/NativeEventList"},
    ]
    union = schemas["NativeEvent"]
    assert union["discriminator"]["propertyName"] == "type"
    assert (
        union["discriminator"]["mapping"]["commerce.order.placed"] == "#/components/schemas/OrderPlacedEvent"
    )
    assert schemas["OrderPlacedEvent"]["properties"]["data"] == {"$ref": "#/components/schemas/OrderPlaced"}

    track = document["paths"]["/v1/track"]["post"]
    assert track["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SegmentTrack"
    }
    assert {"userId", "anonymousId", "event", "properties", "timestamp"} <= set(
        schemas["SegmentTrack"]["properties"]
    )
    assert schemas["SegmentTrack"]["additionalProperties"] is True
    assert {"200", "400", "401", "415", "429", "503"} <= set(track["responses"])
    assert "payload_too_large" in track["responses"]["400"]["description"]
    everywhere = [op["responses"] for path in document["paths"].values() for op in path.values()]
    assert not [r for r in everywhere if "422" in r]  # validation errors are answered 400
    assert document["components"]["securitySchemes"]["writeKey"] == {
        "type": "http",
        "scheme": "basic",
        "description": "the store's write key as the username, an empty password",
    }


async def test_an_erasure_request_is_recorded_on_the_privacy_topic(client, shop, settings):
    answer = await client.delete(
        "/v1/customers/shop-a/cust-1", params={"reason": "customer asked"}, headers=basic(shop.key)
    )

    assert answer.status_code == 202
    request_id = answer.json()["request_id"]
    [(key, envelope)] = await published(settings, PRIVACY_ERASURE)
    assert (key, envelope.id, envelope.store_id, envelope.customer_id) == (
        "shop-a:cust-1",
        request_id,
        "shop-a",
        "cust-1",
    )
    erasure = envelope.event()
    assert isinstance(erasure, ErasureRequested)
    assert (erasure.request_id, erasure.reason) == (request_id, "customer asked")


async def test_only_the_stores_own_key_may_erase_its_customers(client, shop, settings):
    other = await make_shop(settings, "shop-b")
    mismatch = await client.delete("/v1/customers/shop-a/cust-1", headers=basic(other.key))
    missing = await client.delete("/v1/customers/shop-a/cust-1")
    wrong = await client.delete("/v1/customers/shop-a/cust-1", headers=basic("wk_wrong"))

    assert [(a.status_code, a.json()["error"]["code"]) for a in (mismatch, missing, wrong)] == [
        (403, "store_mismatch"),
        (401, "missing_write_key"),
        (401, "invalid_write_key"),
    ]
    assert await published(settings, PRIVACY_ERASURE) == []


async def test_an_erasure_also_forgets_the_identity_links_ingest_keeps(client, shop, settings):
    identify = {"userId": "cust-1", "anonymousId": "a-1", "messageId": "m-identify"}
    assert (await client.post("/v1/identify", json=identify, headers=basic(shop.key))).status_code == 200
    visit = {"anonymousId": "a-1", "name": "Home"}
    before = await client.post("/v1/page", json={**visit, "messageId": "m-before"}, headers=basic(shop.key))
    erased = await client.delete("/v1/customers/shop-a/cust-1", headers=basic(shop.key))
    after = await client.post("/v1/page", json={**visit, "messageId": "m-after"}, headers=basic(shop.key))

    assert [before.status_code, erased.status_code, after.status_code] == [200, 202, 200]
    keys = {e.id: key for key, e in await published(settings)}
    # Linked before the erasure, so the visit counted for the customer; after it, no longer.
    assert (keys["m-before"], keys["m-after"]) == ("shop-a:cust-1", "shop-a:anon:a-1")

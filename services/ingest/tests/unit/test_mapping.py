from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from boomerang.ingest.domain.mapping import Rules, to_envelope
from boomerang.ingest.domain.rejections import Rejected
from boomerang.shared.events import (
    CustomerIdentified,
    CustomEventTracked,
    Envelope,
    OrderPlaced,
    PageViewed,
    ProductViewed,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


DEFAULT_RULES = Rules()


def envelope(raw: dict, call: str | None = None, rules: Rules = DEFAULT_RULES) -> Envelope:
    return to_envelope(raw, call=call, store_id="shop-1", received_at=NOW, new_id="generated-id", rules=rules)


def rejection(raw: dict, call: str | None = None, rules: Rules = DEFAULT_RULES) -> Rejected:
    with pytest.raises(Rejected) as caught:
        envelope(raw, call, rules)
    return caught.value


def order(**properties) -> dict:
    base = {"order_id": "o-1", "total": 30, "products": [{"product_id": "p1", "price": 10, "quantity": 3}]}
    return {"userId": "u1", "event": "Order Completed", "properties": {**base, **properties}}


# --- identity and envelope ---------------------------------------------------------------


def test_the_customer_is_the_user_id_when_there_is_one():
    sent = envelope({"userId": "u1", "anonymousId": "a1", "traits": {}}, "identify")
    assert (sent.customer_id, sent.key) == ("u1", "shop-1:u1")


def test_an_anonymous_customer_is_prefixed():
    assert envelope({"anonymousId": "a1"}, "page").customer_id == "anon:a1"


def test_numeric_user_ids_are_read_as_text():
    assert envelope({"userId": 42}, "page").customer_id == "42"


@pytest.mark.parametrize("raw", [{}, {"userId": ""}, {"userId": "  ", "anonymousId": None}])
def test_no_identity_is_rejected_on_user_id(raw):
    error = rejection(raw, "page")
    assert (error.code, error.field, error.status_code) == ("missing_identity", "userId", 400)


def test_the_envelope_carries_the_message_id_store_and_source():
    sent = envelope({"userId": "u1", "messageId": "m-1"}, "page")
    assert (sent.id, sent.store_id, sent.source) == ("m-1", "shop-1", "ingest")


def test_without_a_message_id_the_envelope_gets_a_new_one():
    assert envelope({"userId": "u1"}, "page").id == "generated-id"


def test_the_store_in_the_body_is_ignored():
    assert envelope({"userId": "u1", "store_id": "other", "writeKey": "x"}, "page").store_id == "shop-1"


def test_a_message_id_longer_than_128_is_rejected():
    assert rejection({"userId": "u1", "messageId": "m" * 129}, "page").field == "messageId"


# --- timestamps ----------------------------------------------------------------------------


def test_time_is_the_timestamp_when_given():
    sent = envelope({"userId": "u1", "timestamp": "2025-02-01T10:00:00+01:00"}, "page")
    assert sent.time == datetime(2025, 2, 1, 9, 0, tzinfo=timezone.utc)


def test_time_is_received_at_without_a_timestamp():
    assert envelope({"userId": "u1"}, "page").time == NOW


def test_a_device_clock_skew_is_corrected_like_segment_does():
    # The device clock runs 1 h fast: it says it sent at 13:00 what happened at 12:55 its time.
    raw = {"userId": "u1", "originalTimestamp": "2025-03-01T12:55:00Z", "sentAt": "2025-03-01T13:00:00Z"}
    assert envelope(raw, "page").time == NOW - timedelta(minutes=5)


def test_a_timestamp_without_offset_is_utc():
    assert envelope(
        {"userId": "u1", "timestamp": "2025-02-01T10:00:00"}, "page"
    ).time.utcoffset() == timedelta(0)


def test_an_unreadable_timestamp_is_rejected():
    error = rejection({"userId": "u1", "timestamp": "yesterday"}, "page")
    assert (error.code, error.field) == ("invalid_timestamp", "timestamp")


# --- identify --------------------------------------------------------------------------------


def test_identify_maps_traits_to_a_customer():
    raw = {
        "userId": "u1",
        "traits": {
            "email": "Ada@Example.COM",
            "phone": "(202) 555-0143",
            "firstName": "Ada",
            "last_name": "Lovelace",
            "timezone": "Europe/London",
            "locale": "en_GB",
            "email_consent": True,
            "smsConsent": "false",
            "plan": "gold",
        },
    }
    event = envelope(raw, "identify").event()
    assert event == CustomerIdentified(
        email="Ada@example.com",
        phone="+12025550143",
        first_name="Ada",
        last_name="Lovelace",
        timezone="Europe/London",
        locale="en-GB",
        email_marketing_consent=True,
        sms_marketing_consent=False,
        traits={"plan": "gold"},
    )


def test_phone_numbers_without_country_code_use_the_default_region():
    raw = {"userId": "u1", "traits": {"phone": "020 7946 0958"}}
    assert envelope(raw, "identify", Rules(default_phone_region="GB")).event().phone == "+442079460958"


@pytest.mark.parametrize(
    ("traits", "code", "field"),
    [
        ({"email": "not-an-email"}, "invalid_email", "traits.email"),
        ({"email": 12}, "invalid_email", "traits.email"),
        ({"phone": "+1 555 555 0123"}, "invalid_phone", "traits.phone"),
        ({"phone": "call me"}, "invalid_phone", "traits.phone"),
        ({"timezone": "Mars/Olympus"}, "invalid_timezone", "traits.timezone"),
        ({"locale": "english please"}, "invalid_locale", "traits.locale"),
        ({"sms_consent": "maybe"}, "invalid_consent", "traits.sms_consent"),
        ({"first_name": {"a": 1}}, "invalid_field", "traits.first_name"),
    ],
)
def test_bad_traits_are_rejected_with_their_field(traits, code, field):
    error = rejection({"userId": "u1", "traits": traits}, "identify")
    assert (error.code, error.field) == (code, field)


def test_a_bad_timezone_in_context_is_ignored_not_rejected():
    raw = {"userId": "u1", "context": {"timezone": "Nowhere/Else", "locale": "nl-NL"}}
    event = envelope(raw, "identify").event()
    assert (event.timezone, event.locale) == (None, "nl-NL")


def test_empty_traits_are_treated_as_absent():
    event = envelope({"userId": "u1", "traits": {"email": "", "phone": None}}, "identify").event()
    assert (event.email, event.phone) == (None, None)


# --- track: orders --------------------------------------------------------------------------


def test_order_completed_is_an_order_placed_with_exact_money():
    raw = order(
        total=30.99,
        subtotal="25.99",
        tax=2.5,
        shipping=5,
        discount=2.5,
        coupon="SPRING",
        currency="eur",
        email="buyer@example.com",
        products=[
            {
                "product_id": "p1",
                "sku": "S1",
                "name": "Mug",
                "category": "Kitchen",
                "price": 12.995,
                "quantity": 2,
                "url": "https://shop.example.com/mug",
            },
        ],
    )
    event = envelope({**raw, "timestamp": "2025-02-01T10:00:00Z"}, "track").event()
    assert isinstance(event, OrderPlaced)
    assert (event.order_id, event.currency, event.coupon, event.email) == (
        "o-1",
        "EUR",
        "SPRING",
        "buyer@example.com",
    )
    assert (event.total, event.subtotal, event.tax, event.shipping, event.discount) == (
        Decimal("30.99"),
        Decimal("25.99"),
        Decimal("2.5"),
        Decimal("5"),
        Decimal("2.5"),
    )
    assert event.placed_at == datetime(2025, 2, 1, 10, tzinfo=timezone.utc)
    [line] = event.lines
    assert (line.product_id, line.sku, line.name, line.quantity, line.unit_price) == (
        "p1",
        "S1",
        "Mug",
        2,
        Decimal("12.995"),
    )


def test_revenue_stands_in_for_a_missing_total():
    raw = order()
    del raw["properties"]["total"]
    raw["properties"]["revenue"] = "19.90"
    assert envelope(raw, "track").event().total == Decimal("19.90")


def test_order_email_falls_back_to_context_traits():
    raw = {**order(), "context": {"traits": {"email": "ctx@example.com", "phone": "+31 6 12345678"}}}
    event = envelope(raw, "track").event()
    assert (event.email, event.phone) == ("ctx@example.com", "+31612345678")


def test_the_event_name_is_matched_loosely():
    raw = {**order(), "event": "order_completed"}
    assert isinstance(envelope(raw, "track").event(), OrderPlaced)


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"order_id": None}, "invalid_field", "properties.order_id"),
        ({"total": None}, "missing_field", "properties.total"),
        ({"total": -1}, "invalid_field", "properties.total"),
        ({"currency": "euro"}, "invalid_currency", "properties.currency"),
        (
            {"products": [{"product_id": "p1", "price": 1}, {"product_id": "p2", "price": "abc"}]},
            "invalid_field",
            "properties.products[1].price",
        ),
        ({"products": [{"price": 1}]}, "missing_field", "properties.products[0].product_id"),
        ({"products": [{"product_id": "p1"}]}, "missing_field", "properties.products[0].price"),
        (
            {"products": [{"product_id": "p1", "price": 1, "quantity": 0}]},
            "invalid_field",
            "properties.products[0].quantity",
        ),
        ({"products": "p1"}, "invalid_field", "properties.products"),
        ({"email": "nope"}, "invalid_email", "properties.email"),
    ],
)
def test_bad_orders_are_rejected_with_their_field(change, code, field):
    raw = order(**change)
    raw["properties"] = {k: v for k, v in raw["properties"].items() if not (k == "total" and v is None)}
    if change.get("order_id", "") is None:
        del raw["properties"]["order_id"]
        code = "missing_field"
    error = rejection(raw, "track")
    assert (error.code, error.field) == (code, field)


# --- track: other ---------------------------------------------------------------------------


def test_product_viewed():
    raw = {
        "userId": "u1",
        "event": "Product Viewed",
        "properties": {"sku": "S1", "name": "Mug", "price": "9.50", "url": "https://x.example/mug"},
    }
    assert envelope(raw, "track").event() == ProductViewed(
        product_id="S1", name="Mug", price=Decimal("9.50"), url="https://x.example/mug"
    )


def test_product_viewed_needs_a_product():
    assert rejection({"userId": "u1", "event": "Product Viewed"}, "track").field == "properties.product_id"


def test_other_track_calls_are_custom_events():
    raw = {"userId": "u1", "event": "Wishlist Shared", "properties": {"items": 3, "ratio": 0.5}}
    assert envelope(raw, "track").event() == CustomEventTracked(
        name="Wishlist Shared", properties={"items": 3, "ratio": 0.5}
    )


def test_track_needs_an_event_name():
    assert (rejection({"userId": "u1"}, "track").code, rejection({"userId": "u1"}, "track").field) == (
        "missing_field",
        "event",
    )


# --- page and batch types -------------------------------------------------------------------


def test_page_takes_properties_then_context_page():
    raw = {
        "userId": "u1",
        "name": "Home",
        "properties": {"url": "https://shop.example.com/"},
        "context": {"page": {"path": "/", "title": "Shop", "referrer": "https://google.com/"}},
    }
    assert envelope(raw, "page").event() == PageViewed(
        name="Home", url="https://shop.example.com/", path="/", title="Shop", referrer="https://google.com/"
    )


def test_a_batch_item_names_its_type():
    assert isinstance(envelope({"type": "page", "userId": "u1"}).event(), PageViewed)


@pytest.mark.parametrize(
    ("raw", "code"),
    [({"userId": "u1"}, "missing_field"), ({"type": "alias", "userId": "u1"}, "unsupported_type")],
)
def test_a_batch_item_without_a_known_type_is_rejected(raw, code):
    error = rejection(raw)
    assert (error.code, error.field) == (code, "type")


def test_the_endpoint_decides_the_type_not_the_body():
    assert isinstance(envelope({"type": "track", "userId": "u1"}, "page").event(), PageViewed)

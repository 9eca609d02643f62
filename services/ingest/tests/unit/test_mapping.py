from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from boomerang.ingest.domain.identity import Link
from boomerang.ingest.domain.mapping import Rules, to_call, to_envelope
from boomerang.ingest.domain.rejections import Rejected
from boomerang.shared.events import (
    CartViewed,
    CheckoutStarted,
    CustomerGrouped,
    CustomerIdentified,
    CustomEventTracked,
    Envelope,
    IdentityLinked,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    OrderRefunded,
    PageViewed,
    ProductAddedToCart,
    ProductViewed,
    ScreenViewed,
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
        email_marketing_consent_source="segment",  # not said: it came through Segment
        email_marketing_consent_at=NOW,  # not said: when the call happened
        sms_marketing_consent=False,
        sms_marketing_consent_source="segment",
        sms_marketing_consent_at=NOW,
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
        ({"timezone": "x" * 300}, "invalid_timezone", "traits.timezone"),  # not a file name either
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
    [({"userId": "u1"}, "missing_field"), ({"type": "ping", "userId": "u1"}, "unsupported_type")],
)
def test_a_batch_item_without_a_known_type_is_rejected(raw, code):
    error = rejection(raw)
    assert (error.code, error.field) == (code, "type")


def test_the_endpoint_decides_the_type_not_the_body():
    assert isinstance(envelope({"type": "track", "userId": "u1"}, "page").event(), PageViewed)


def track(event: str, **properties) -> dict:
    return {"userId": "u1", "event": event, "properties": properties}


def identify(**traits) -> dict:
    return {"userId": "u1", "traits": traits}


# --- identify: birthday and consent with its source and time ---------------------------------


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("1990-05-17", date(1990, 5, 17)),
        ("1990-05-17T00:00:00Z", date(1990, 5, 17)),
        # The calendar date as written, not moved to UTC: a birthday is not an instant.
        ("1990-05-17T23:30:00-05:00", date(1990, 5, 17)),
        (" 2001-02-03 ", date(2001, 2, 3)),
    ],
)
def test_birthday_is_an_iso_date_or_the_date_of_a_datetime(value, day):
    event = envelope(identify(birthday=value), "identify").event()
    assert event.birthday == day and "birthday" not in event.traits


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "17/05/1990",
        "1990-02-30",
        "1990-05-17Tnoon",
        "1850-01-01",
        "2025-03-03",
        19900517,
        True,
        {},
    ],
)
def test_nonsense_birthdays_are_rejected_at_their_field(value):
    # NOW is 2025-03-01: the 3rd has not happened anywhere yet.
    error = rejection(identify(birthday=value), "identify")
    assert (error.code, error.field) == ("invalid_birthday", "traits.birthday")


def test_consent_flags_take_their_source_and_time_from_sibling_traits():
    traits = {
        "email_consent": "yes",
        "email_consent_source": " checkout ",
        "email_consent_at": "2025-02-01T09:00:00+01:00",
        "smsConsent": False,
        "smsConsentSource": "pos",
    }
    event = envelope(identify(**traits), "identify").event()
    assert (event.email_marketing_consent, event.email_marketing_consent_source) == (True, "checkout")
    assert event.email_marketing_consent_at == datetime(2025, 2, 1, 8, tzinfo=timezone.utc)
    assert (event.sms_marketing_consent, event.sms_marketing_consent_source) == (False, "pos")
    assert event.sms_marketing_consent_at == NOW
    assert event.traits == {}


def test_consent_objects_carry_their_own_source_and_time():
    traits = {
        "email_marketing_consent": {
            "subscribed": True,
            "source": "newsletter form",
            "at": "2025-01-05T10:00:00",
        },
        "sms_consent": {"subscribed": "unsubscribed"},
    }
    sent = envelope({**identify(**traits), "timestamp": "2025-02-20T08:00:00Z"}, "identify")
    event = sent.event()
    assert (event.email_marketing_consent, event.email_marketing_consent_source) == (True, "newsletter form")
    assert event.email_marketing_consent_at == datetime(2025, 1, 5, 10, tzinfo=timezone.utc)  # naive is UTC
    assert (event.sms_marketing_consent, event.sms_marketing_consent_source) == (False, "segment")
    assert event.sms_marketing_consent_at == sent.time == datetime(2025, 2, 20, 8, tzinfo=timezone.utc)


def test_a_consent_source_or_time_without_the_consent_sets_nothing():
    event = envelope(
        identify(email_consent_source="form", sms_consent_at="2025-01-01T00:00:00Z"), "identify"
    ).event()
    assert (
        event.email_marketing_consent,
        event.email_marketing_consent_source,
        event.sms_marketing_consent_at,
    ) == (
        None,
        None,
        None,
    )
    assert event.traits == {}


@pytest.mark.parametrize(
    ("traits", "code", "field"),
    [
        ({"email_consent": {"source": "form"}}, "missing_field", "traits.email_consent.subscribed"),
        ({"email_consent": {"subscribed": "perhaps"}}, "invalid_consent", "traits.email_consent.subscribed"),
        (
            {"sms_consent": {"subscribed": True, "at": "last week"}},
            "invalid_timestamp",
            "traits.sms_consent.at",
        ),
        (
            {"sms_consent": {"subscribed": True, "source": ["a"]}},
            "invalid_consent",
            "traits.sms_consent.source",
        ),
        ({"email_consent": True, "emailConsentAt": "soon"}, "invalid_timestamp", "traits.emailConsentAt"),
        (
            {"sms_consent": True, "sms_consent_source": "x" * 101},
            "invalid_consent",
            "traits.sms_consent_source",
        ),
        ({"email_consent": [True]}, "invalid_consent", "traits.email_consent"),
    ],
)
def test_bad_consents_are_rejected_at_their_field(traits, code, field):
    error = rejection(identify(**traits), "identify")
    assert (error.code, error.field) == (code, field)


# --- track: the rest of E-commerce Spec v2 ----------------------------------------------------


MONOPOLY = {"product_id": "507f", "sku": "G-32", "name": "Monopoly", "price": 19, "quantity": 1}
UNO = {"product_id": "505b", "sku": "46493-32", "name": "Uno", "price": "3.10", "quantity": 2}


def test_order_refunded_takes_its_amount_from_total():
    raw = track("Order Refunded", order_id="o-1", total="30.50", currency="eur", reason="damaged")
    event = envelope({**raw, "timestamp": "2025-02-01T10:00:00Z"}, "track").event()
    assert event == OrderRefunded(
        order_id="o-1",
        refunded_at=datetime(2025, 2, 1, 10, tzinfo=timezone.utc),
        currency="EUR",
        amount=Decimal("30.50"),
        reason="damaged",
    )


def test_order_refunded_falls_back_to_revenue_then_to_the_products_refunded():
    by_revenue = envelope(track("Order Refunded", order_id="o-1", revenue=25), "track").event()
    partial = envelope(
        track("Order Refunded", order_id="o-1", refund_id="r-7", products=[UNO]), "track"
    ).event()
    assert by_revenue.amount == Decimal(25)
    assert (partial.amount, partial.refund_id) == (Decimal("6.20"), "r-7")
    assert partial.lines == [
        OrderLine(product_id="505b", sku="46493-32", name="Uno", quantity=2, unit_price=Decimal("3.10"))
    ]


def test_a_refund_total_wins_over_its_products():
    event = envelope(
        track("Order Refunded", order_id="o-1", total=5, products=[MONOPOLY, UNO]), "track"
    ).event()
    assert (event.amount, len(event.lines)) == (Decimal(5), 2)


@pytest.mark.parametrize(
    ("properties", "code", "field"),
    [
        ({"total": 5}, "missing_field", "properties.order_id"),
        ({"order_id": "o-1"}, "missing_field", "properties.total"),
        ({"order_id": "o-1", "total": -5}, "invalid_field", "properties.total"),
        (
            {"order_id": "o-1", "products": [MONOPOLY, {"product_id": "p"}]},
            "missing_field",
            "properties.products[1].price",
        ),
        ({"order_id": "o-1", "total": 5, "currency": "$"}, "invalid_currency", "properties.currency"),
    ],
)
def test_bad_refunds_are_rejected_at_their_field(properties, code, field):
    error = rejection(track("Order Refunded", **properties), "track")
    assert (error.code, error.field) == (code, field)


def test_order_cancelled():
    full = envelope(track("Order Cancelled", order_id="o-1", total=30, revenue=25, currency="usd"), "track")
    bare = envelope(track("Order Cancelled", order_id="o-2"), "track").event()
    assert full.event() == OrderCancelled(order_id="o-1", cancelled_at=NOW, currency="USD", total=Decimal(30))
    assert (bare.total, bare.currency) == (None, None)
    assert rejection(track("Order Cancelled", total=3), "track").field == "properties.order_id"


def test_checkout_started_with_its_cart_and_recovery_link():
    raw = track(
        "Checkout Started",
        order_id="50314b8e",
        value=30,
        revenue=25,
        currency="USD",
        checkout_url="https://shop.example.com/checkouts/c1",
        products=[MONOPOLY, UNO],
    )
    raw["context"] = {"traits": {"email": "ada@example.com"}}
    event = envelope(raw, "track").event()
    assert isinstance(event, CheckoutStarted)
    assert (event.checkout_id, event.total, event.currency, event.email) == (
        "50314b8e",
        Decimal(30),
        "USD",
        "ada@example.com",
    )
    assert (event.recovery_url, [line.product_id for line in event.lines]) == (
        "https://shop.example.com/checkouts/c1",
        ["507f", "505b"],
    )


@pytest.mark.parametrize(
    ("properties", "checkout_id"),
    [
        ({"checkout_id": "c", "order_id": "o", "cart_id": "k"}, "c"),
        ({"order_id": "o", "cart_id": "k"}, "o"),
        ({"cart_id": "k"}, "k"),
        ({"checkout_id": 1234}, "1234"),
    ],
)
def test_a_checkout_is_named_by_checkout_id_then_order_id_then_cart_id(properties, checkout_id):
    assert envelope(track("Checkout Started", **properties), "track").event().checkout_id == checkout_id


def test_a_checkout_without_any_id_is_rejected():
    error = rejection(track("Checkout Started", total=3), "track")
    assert (error.code, error.field) == ("missing_field", "properties.checkout_id")


def test_product_added():
    raw = track("Product Added", cart_id="cart-9", sku="G-32", name="Monopoly", price="18.99", quantity=2)
    assert envelope(raw, "track").event() == ProductAddedToCart(
        product_id="G-32", cart_id="cart-9", sku="G-32", name="Monopoly", price=Decimal("18.99"), quantity=2
    )
    assert envelope(track("Product Added", product_id="p"), "track").event().quantity == 1


@pytest.mark.parametrize(
    ("properties", "code", "field"),
    [
        ({"name": "Monopoly"}, "missing_field", "properties.product_id"),
        ({"product_id": "p", "quantity": 0}, "invalid_field", "properties.quantity"),
        ({"product_id": "p", "price": "lots"}, "invalid_field", "properties.price"),
    ],
)
def test_bad_product_added_is_rejected_at_its_field(properties, code, field):
    error = rejection(track("Product Added", **properties), "track")
    assert (error.code, error.field) == (code, field)


def test_cart_viewed():
    event = envelope(track("Cart Viewed", cart_id="k", products=[MONOPOLY]), "track").event()
    assert event == CartViewed(
        cart_id="k",
        lines=[OrderLine(product_id="507f", sku="G-32", name="Monopoly", quantity=1, unit_price=Decimal(19))],
    )
    assert envelope(track("Cart Viewed"), "track").event() == CartViewed()
    assert (
        rejection(track("Cart Viewed", products=[{"sku": "x"}]), "track").field
        == "properties.products[0].price"
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ORDER_REFUNDED", OrderRefunded),
        ("  order   refunded ", OrderRefunded),
        ("Order_Cancelled", OrderCancelled),
        ("order canceled", OrderCancelled),
        ("checkout_started", CheckoutStarted),
        ("Started Order", CheckoutStarted),
        ("product added", ProductAddedToCart),
        ("Added Product", ProductAddedToCart),
        ("Viewed Product", ProductViewed),
        ("CART VIEWED", CartViewed),
        ("Completed Order", OrderPlaced),
    ],
)
def test_spec_event_names_are_matched_loosely(name, kind):
    properties = {"order_id": "o", "checkout_id": "c", "product_id": "p", "total": 1}
    assert isinstance(envelope(track(name, **properties), "track").event(), kind)


@pytest.mark.parametrize("name", ["Order Updated", "Product Removed", "Orders Completed", "Coupon Applied"])
def test_every_other_track_event_passes_through_as_custom(name):
    raw = track(name, order_id=None, anything=[1, {"x": None}])
    assert envelope(raw, "track").event() == CustomEventTracked(
        name=name, properties={"order_id": None, "anything": [1, {"x": None}]}
    )


# --- screen, group, alias ----------------------------------------------------------------------


def test_screen_is_an_app_page_view():
    raw = {"anonymousId": "a1", "name": "Basket", "properties": {"items": 2}}
    sent = envelope(raw, "screen")
    assert (sent.customer_id, sent.event()) == (
        "anon:a1",
        ScreenViewed(name="Basket", properties={"items": 2}),
    )


def test_group_puts_the_customer_in_an_account():
    raw = {"userId": "u1", "groupId": 42, "traits": {"name": "Acme", "plan": "b2b"}}
    assert envelope(raw, "group").event() == CustomerGrouped(
        group_id="42", traits={"name": "Acme", "plan": "b2b"}
    )
    error = rejection({"userId": "u1", "traits": {"name": "Acme"}}, "group")
    assert (error.code, error.field) == ("missing_field", "groupId")


def test_alias_is_an_identity_link_keyed_by_the_user():
    sent = envelope({"userId": "u1", "previousId": "a1", "messageId": "m-alias"}, "alias")
    assert (sent.id, sent.customer_id, sent.event()) == (
        "m-alias",
        "u1",
        IdentityLinked(previous_id="a1", via="alias"),
    )


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        ({"userId": "u1"}, "missing_field", "previousId"),
        ({"anonymousId": "a1", "previousId": "a0"}, "missing_field", "userId"),
        ({"previousId": "a0"}, "missing_identity", "userId"),
    ],
)
def test_alias_needs_both_ids(raw, code, field):
    error = rejection(raw, "alias")
    assert (error.code, error.field) == (code, field)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ({"type": "screen", "userId": "u1"}, ScreenViewed),
        ({"type": "group", "userId": "u1", "groupId": "g"}, CustomerGrouped),
        ({"type": "alias", "userId": "u1", "previousId": "a"}, IdentityLinked),
    ],
)
def test_every_call_type_may_come_in_a_batch(raw, kind):
    assert isinstance(envelope(raw).event(), kind)


# --- the links calls state --------------------------------------------------------------------


def links(raw: dict, call: str) -> tuple[Link, ...]:
    return to_call(raw, call=call, store_id="shop-1", received_at=NOW, new_id="g", rules=DEFAULT_RULES).links


def test_an_identify_with_both_ids_links_the_visitor_to_the_user():
    assert links({"userId": "u1", "anonymousId": "a1"}, "identify") == (
        Link("anon:a1", "u1", "identify", NOW),
    )


def test_an_alias_links_its_previous_id_both_as_a_visitor_and_as_a_user():
    assert links({"userId": "u1", "previousId": "p"}, "alias") == (
        Link("anon:p", "u1", "alias", NOW),
        Link("p", "u1", "alias", NOW),
    )


@pytest.mark.parametrize(
    ("raw", "call"),
    [
        ({"userId": "u1"}, "identify"),
        ({"anonymousId": "a1", "traits": {"email": "a@example.com"}}, "identify"),
        (
            {"userId": "u1", "anonymousId": "a1", "event": "Product Viewed", "properties": {"sku": "s"}},
            "track",
        ),
        ({"userId": "u1", "anonymousId": "a1"}, "page"),
        ({"userId": "u1", "previousId": "u1"}, "alias"),
    ],
)
def test_other_calls_link_nothing(raw, call):
    assert links(raw, call) == ()

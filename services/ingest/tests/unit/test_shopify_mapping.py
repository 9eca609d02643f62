"""The pure Shopify mapping, against payloads shaped like Shopify's samples."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.domain.rejections import Rejected
from boomerang.ingest.domain.shopify import (
    TOPICS,
    guest_of_checkout,
    map_webhook,
    sign,
    signature_matches,
    wrap,
)
from boomerang.shared.events import (
    CheckoutStarted,
    CustomerIdentified,
    Envelope,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    OrderRefunded,
)

from .shopify_fixtures import paid, payload

RULES = Rules()
EDT = timezone(timedelta(hours=-4))


def mapped(topic: str, body: dict, store_id: str = "shop-a"):
    return map_webhook(topic, body, store_id=store_id, rules=RULES)


def test_an_order_maps_to_order_placed_with_decimal_money_and_its_lines():
    result = mapped("orders/create", payload("orders_create"))
    order = result.event
    assert isinstance(order, OrderPlaced)
    assert (result.customer_id, result.order_id) == ("207119551", "5893217321195")
    assert (order.total, order.subtotal, order.tax, order.shipping, order.discount) == (
        Decimal("389.69"),
        Decimal("358.20"),
        Decimal("21.49"),
        Decimal("10.00"),
        Decimal("39.80"),
    )
    assert all(isinstance(v, Decimal) for v in (order.total, order.lines[0].unit_price))
    assert order.lines == [
        OrderLine(
            product_id="632910392",
            sku="IPOD2008GREEN",
            name="IPod Nano - 8gb - green",
            quantity=1,
            unit_price=Decimal("199.00"),
        ),
        # A custom line item has no product: its SKU stands in.
        OrderLine(
            product_id="WRAP-LUX",
            sku="WRAP-LUX",
            name="Gift wrapping",
            quantity=2,
            unit_price=Decimal("99.50"),
        ),
    ]
    assert (order.currency, order.coupon, order.email, order.phone) == (
        "USD",
        "TENOFF",
        "bob.norman@mail.example.com",
        "+16136120707",  # the order has no phone of its own: the customer's
    )
    # processed_at, with its offset kept as an instant
    assert order.placed_at == result.time == datetime(2024, 8, 29, 16, 36, 56, tzinfo=EDT)


def test_created_and_paid_are_one_order_with_one_envelope_id():
    created = mapped("orders/create", payload("orders_create"))
    settled = mapped("orders/paid", paid(payload("orders_create")))
    assert created.id == settled.id and created.event == settled.event
    assert mapped("orders/create", payload("orders_create"), store_id="shop-b").id != created.id


def test_a_guest_order_is_known_by_its_checkout_and_a_pos_sale_by_itself():
    guest = payload("orders_create_guest")
    result = mapped("orders/create", guest)
    assert result.customer_id == guest_of_checkout("123123123") == "anon:shopify-checkout:123123123"
    order = result.event
    assert (order.currency, order.total, order.email, order.phone) == (
        "EUR",
        Decimal("388.00"),
        "jon@example.com",
        "+31207941234",
    )
    # processed_at is null on this sample: created_at is the time
    assert order.placed_at == datetime(2021, 12, 31, 19, tzinfo=timezone(timedelta(hours=-5)))

    guest["checkout_token"] = None
    assert mapped("orders/create", guest).customer_id == "anon:shopify-order:820982911946154508"


def test_the_checkout_and_the_guest_order_it_became_share_a_customer():
    checkout = mapped("checkouts/create", payload("checkouts_create"))
    order = mapped("orders/create", payload("orders_create_guest"))
    assert checkout.customer_id == order.customer_id


def test_a_cancellation_keeps_order_total_and_reason():
    result = mapped("orders/cancelled", payload("orders_cancelled"))
    assert result.event == OrderCancelled(
        order_id="5893217321195",
        cancelled_at=datetime(2024, 8, 30, 9, 15, 2, tzinfo=EDT),
        currency="USD",
        total=Decimal("389.69"),
        reason="customer",
    )
    assert result.customer_id == "207119551"
    assert result.id != mapped("orders/create", payload("orders_create")).id


def test_a_refund_counts_only_the_successful_refund_transactions():
    result = mapped("refunds/create", payload("refunds_create"))
    refund = result.event
    assert isinstance(refund, OrderRefunded)
    # 184.77 by card + 100.00 to a gift card; the declined 195.00 and the pending 10.00 paid nothing
    assert refund.amount == Decimal("284.77") and isinstance(refund.amount, Decimal)
    assert (refund.order_id, refund.refund_id, refund.currency, refund.reason) == (
        "5893217321195",
        "929361464",
        "USD",
        "wrong size",
    )
    assert [(line.product_id, line.quantity, line.unit_price) for line in refund.lines] == [
        ("632910392", 1, Decimal("199.00")),
        ("WRAP-LUX", 1, Decimal("99.50")),  # one of the two wrappings: the refunded quantity
    ]
    assert refund.refunded_at == datetime(2024, 9, 2, 10, 34, 56, tzinfo=EDT)
    # The payload names no customer: the service layer finds the order's.
    assert (result.customer_id, result.order_id) == (None, "5893217321195")


def test_a_refund_without_money_back_is_zero_and_mixed_currencies_are_refused():
    body = payload("refunds_create")
    body["transactions"] = []
    assert mapped("refunds/create", body).event.amount == Decimal(0)

    body = payload("refunds_create")
    body["transactions"][2]["currency"] = "EUR"
    with pytest.raises(Rejected) as caught:
        mapped("refunds/create", body)
    assert (caught.value.code, caught.value.field) == ("invalid_currency", "transactions")


def test_a_new_customer_brings_contact_and_both_consents_with_source_and_time():
    result = mapped("customers/create", payload("customers_create"))
    est = timezone(timedelta(hours=-5))
    assert result.customer_id == "706405506930370084"
    assert result.event == CustomerIdentified(
        email="bob@biller.com",
        phone="+12025550143",
        first_name="Bob",
        last_name="Biller",
        email_marketing_consent=True,
        email_marketing_consent_source="shopify:confirmed_opt_in",
        email_marketing_consent_at=datetime(2021, 12, 31, 19, 0, 2, tzinfo=est),
        sms_marketing_consent=True,
        sms_marketing_consent_source="other:single_opt_in",  # collected outside Shopify
        sms_marketing_consent_at=datetime(2021, 12, 31, 19, 0, 3, tzinfo=est),
    )


def test_an_update_withdraws_consent_and_normalises_contact():
    event = mapped("customers/update", payload("customers_update")).event
    assert (event.email, event.phone) == ("Bob.Biller@example.com", "+12025550143")
    assert (event.email_marketing_consent, event.email_marketing_consent_source) == (
        False,
        "shopify:confirmed_opt_in",
    )
    # Never consented: a no, without a time (Shopify has none)
    assert (
        event.sms_marketing_consent,
        event.sms_marketing_consent_source,
        event.sms_marketing_consent_at,
    ) == (
        False,
        "shopify:single_opt_in",
        None,
    )


@pytest.mark.parametrize(
    ("consent", "expected"),
    [
        ({"state": "pending", "opt_in_level": "confirmed_opt_in"}, False),  # not confirmed yet
        ({"state": "redacted"}, False),
        ({"state": "a_state_shopify_adds_later"}, None),  # unknown: say nothing rather than guess
        (None, None),
    ],
)
def test_consent_states_that_are_not_a_yes(consent, expected):
    body = payload("customers_create")
    body["email_marketing_consent"] = consent
    event = mapped("customers/create", body).event
    assert event.email_marketing_consent is expected
    assert (event.email_marketing_consent_source is None) == (expected is None)


def test_the_older_accepts_marketing_flag_still_counts():
    body = payload("customers_create")
    del body["email_marketing_consent"]
    body.update(accepts_marketing=True, accepts_marketing_updated_at="2020-05-01T10:00:00Z")
    event = mapped("customers/create", body).event
    assert (event.email_marketing_consent, event.email_marketing_consent_source) == (
        True,
        "shopify:accepts_marketing",
    )


def test_two_different_updates_in_the_same_second_are_two_events_and_a_repeat_is_one():
    first = mapped("customers/update", payload("customers_update"))
    repeat = mapped("customers/update", payload("customers_update"))
    changed = payload("customers_update")
    changed["email_marketing_consent"]["state"] = "subscribed"
    assert first.id == repeat.id != mapped("customers/update", changed).id


def test_a_checkout_keeps_its_recovery_url_and_its_registered_customer():
    body = payload("checkouts_create")
    result = mapped("checkouts/create", body)
    assert result.event == CheckoutStarted(
        checkout_id="123123123",
        started_at=datetime(2021, 12, 31, 19, tzinfo=timezone(timedelta(hours=-5))),
        currency="USD",
        total=Decimal("398.00"),
        lines=[
            OrderLine(
                product_id="632910392",
                sku="IPOD2008PINK",
                name="IPod Nano - 8GB",
                unit_price=Decimal("199.00"),
            ),
            OrderLine(
                product_id="632910392",
                sku="IPOD2008BLACK",
                name="IPod Nano - 8GB",
                unit_price=Decimal("199.00"),
            ),
        ],
        recovery_url="https://checkout.local/548380009/checkouts/123123123/recover?key=example-secret-token",
        email="example@email.com",
    )
    body["customer"] = {"id": 207119551, "email": "bob.norman@mail.example.com"}
    assert mapped("checkouts/create", body).customer_id == "207119551"


def test_wrapping_gives_the_envelope_of_the_shared_contract():
    result = mapped("orders/create", payload("orders_create"))
    envelope = wrap(result, store_id="shop-a", customer_id="207119551")
    again = Envelope.from_bytes(envelope.to_bytes())
    assert (again.id, again.type, again.source, again.key) == (
        result.id,
        "commerce.order.placed",
        "ingest.shopify",
        "shop-a:207119551",
    )
    assert again.event() == result.event  # money survives the JSON round trip as Decimal


@pytest.mark.parametrize(
    ("topic", "change", "code", "field"),
    [
        ("orders/create", {"total_price": None}, "missing_field", "total_price"),
        ("orders/create", {"total_price": "12,50"}, "invalid_field", "total_price"),
        ("orders/create", {"total_price": "-1.00"}, "invalid_field", "total_price"),
        ("orders/create", {"id": None}, "invalid_field", "id"),
        ("orders/create", {"currency": "dollars"}, "invalid_currency", "currency"),
        ("orders/create", {"processed_at": "yesterday"}, "invalid_timestamp", "processed_at"),
        ("orders/create", {"email": "not-an-address"}, "invalid_email", "email"),
        (
            "orders/create",
            {"line_items": [{"title": "x", "price": "1.00", "quantity": 0}]},
            "invalid_field",
            "line_items[0].quantity",
        ),
        (
            "orders/create",
            {"line_items": [{"product_id": 1, "price": None}]},
            "missing_field",
            "line_items[0].price",
        ),
        ("customers/update", {"phone": "12"}, "invalid_phone", "phone"),
        ("customers/update", {"id": None}, "missing_field", "id"),
        ("refunds/create", {"order_id": None}, "invalid_field", "order_id"),
        ("checkouts/create", {"token": None, "id": None}, "missing_field", "token"),
    ],
)
def test_bad_payloads_are_refused_with_code_and_field_path(topic, change, code, field):
    name = {
        "orders/create": "orders_create",
        "customers/update": "customers_update",
        "refunds/create": "refunds_create",
        "checkouts/create": "checkouts_create",
    }[topic]
    body = {**payload(name), **change}
    with pytest.raises(Rejected) as caught:
        mapped(topic, body)
    assert (caught.value.code, caught.value.field) == (code, field)


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(Rejected) as caught:
        mapped("orders/create", [payload("orders_create")])
    assert caught.value.code == "malformed_json"


def test_every_supported_topic_maps():
    assert TOPICS == {
        "orders/create",
        "orders/paid",
        "orders/cancelled",
        "refunds/create",
        "customers/create",
        "customers/update",
        "checkouts/create",
    }


def test_the_signature_is_base64_hmac_sha256_of_the_raw_body():
    body = b'{"id": 1}'
    # Computed independently:
    # printf '{"id": 1}' | openssl dgst -sha256 -hmac s3cret -binary | base64
    assert sign(body, "s3cret") == "znsdkYCAk1lKD3Dtkic/QcY14BRZ/tOffwvL4Jyjy8c="
    assert signature_matches(body, "s3cret", sign(body, "s3cret"))
    assert not signature_matches(body + b" ", "s3cret", sign(body, "s3cret"))
    assert not signature_matches(body, "other", sign(body, "s3cret"))
    for garbage in (None, "", "not base64 !", "ü"):
        assert not signature_matches(body, "s3cret", garbage)

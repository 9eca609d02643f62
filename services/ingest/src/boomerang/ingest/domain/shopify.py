"""Shopify webhooks to Boomerang events: pure functions over the signed payload, raising `Rejected`.

Shopify topics map to the same events the Segment API produces, so nothing downstream needs to
know where an order came from. Field paths in rejections are relative to the payload
(`line_items[2].price`). Money is read as `Decimal` (Shopify sends strings like "12.34", and
floats in a few places such as refund subtotals), never as float.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator

from boomerang.ingest.domain.contacts import (
    DEFAULT_CURRENCY,
    Consent,
    consent_fields,
    currency_code,
    first_present,
    normalise_email,
)
from boomerang.ingest.domain.mapping import Rules, first_id, order_line
from boomerang.ingest.domain.messages import (
    Lenient,
    ListOrNull,
    Money,
    OptionalId,
    Quantity,
    RequiredId,
    as_utc_if_naive,
    parse,
)
from boomerang.ingest.domain.rejections import Rejected
from boomerang.shared.events import (
    CheckoutStarted,
    CustomerIdentified,
    Envelope,
    Event,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    OrderRefunded,
)

SOURCE = "ingest.shopify"
# Envelope ids are uuid5 names under this namespace: a redelivered webhook maps to the same id.
_IDS = uuid.UUID("5b0f3c1e-6a55-4c8e-9f43-4d6a2f1e8b70")
_SUBSCRIBED = "subscribed"
# Shopify's other consent states: not_subscribed, unsubscribed, pending (double opt-in not yet
# confirmed), redacted, invalid (SMS to a number that cannot take it). None of them is consent.
_NOT_SUBSCRIBED = frozenset({"not_subscribed", "unsubscribed", "pending", "redacted", "invalid"})


Timestamp = Annotated[datetime | None, BeforeValidator(lambda v: None if v == "" else v)]


class _Payload(Lenient):
    """Unknown fields are allowed: Shopify adds fields in every API version."""

    @field_validator("*", mode="after")
    @classmethod
    def _aware(cls, value: Any) -> Any:
        return as_utc_if_naive(value) if isinstance(value, datetime) else value


class MarketingConsent(_Payload):
    state: str | None = None
    opt_in_level: str | None = None
    consent_updated_at: Timestamp = None
    consent_collected_from: str | None = None  # SMS only: SHOPIFY or OTHER


class Customer(_Payload):
    id: OptionalId = None
    email: Any = None
    phone: Any = None
    first_name: str | None = None
    last_name: str | None = None
    email_marketing_consent: MarketingConsent | None = None
    sms_marketing_consent: MarketingConsent | None = None
    # Before API 2022-04 email consent was one boolean; some shops' apps still send it.
    accepts_marketing: bool | None = None
    accepts_marketing_updated_at: Timestamp = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


class LineItem(_Payload):
    id: OptionalId = None
    product_id: OptionalId = None
    variant_id: OptionalId = None
    sku: OptionalId = None
    title: str | None = None
    name: str | None = None
    price: Money = None
    quantity: Quantity = 1


class ShopMoney(_Payload):
    amount: Money = None


class MoneySet(_Payload):
    shop_money: ShopMoney | None = None


class DiscountCode(_Payload):
    code: str | None = None


class Order(_Payload):
    id: RequiredId
    email: Any = None
    contact_email: Any = None
    phone: Any = None
    created_at: Timestamp = None
    processed_at: Timestamp = None
    updated_at: Timestamp = None
    cancelled_at: Timestamp = None
    cancel_reason: str | None = None
    currency: str | None = None
    total_price: Money = None
    subtotal_price: Money = None
    total_tax: Money = None
    total_discounts: Money = None
    total_shipping_price_set: MoneySet | None = None
    discount_codes: ListOrNull[DiscountCode] = Field(default_factory=list)
    line_items: ListOrNull[LineItem] = Field(default_factory=list)
    customer: Customer | None = None
    checkout_token: OptionalId = None


class RefundLine(_Payload):
    quantity: Quantity = 1
    line_item: LineItem


class Transaction(_Payload):
    kind: str | None = None
    status: str | None = None
    amount: Money = None
    currency: str | None = None


class Refund(_Payload):
    id: RequiredId
    order_id: RequiredId
    created_at: Timestamp = None
    processed_at: Timestamp = None
    note: str | None = None
    refund_line_items: ListOrNull[RefundLine] = Field(default_factory=list)
    transactions: ListOrNull[Transaction] = Field(default_factory=list)


class Checkout(_Payload):
    id: OptionalId = None
    token: OptionalId = None
    email: Any = None
    phone: Any = None
    created_at: Timestamp = None
    currency: str | None = None
    presentment_currency: str | None = None
    total_price: Money = None
    line_items: ListOrNull[LineItem] = Field(default_factory=list)
    abandoned_checkout_url: str | None = None
    customer: Customer | None = None


@dataclass(frozen=True)
class Mapped:
    """One webhook as an event, before it is wrapped for a customer."""

    id: str  # deterministic: the same webhook (or the same order, for create/paid) maps to it
    event: Event
    time: datetime
    # None for refunds: their payload names the order only, so the service looks the buyer up.
    customer_id: str | None
    order_id: str | None = None


# --- signatures ------------------------------------------------------------------------------


def sign(body: bytes, secret: str) -> str:
    """What Shopify sends in X-Shopify-Hmac-SHA256: base64(HMAC-SHA256(raw body, secret))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_matches(body: bytes, secret: str, given: str | None) -> bool:
    """Constant-time comparison of the digests; a header that is not base64 simply fails."""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    try:
        presented = base64.b64decode((given or "").strip(), validate=True)
    except (binascii.Error, ValueError):
        presented = b""
    return hmac.compare_digest(expected, presented)


# --- mapping ---------------------------------------------------------------------------------


def map_webhook(topic: str, payload: Any, *, store_id: str, rules: Rules) -> Mapped:
    """Map one supported topic (see TOPICS); the caller ignores the others."""
    if not isinstance(payload, dict):
        raise Rejected("malformed_json", "the body must be a JSON object")
    return _MAPPERS[topic](payload, store_id, rules)


def wrap(mapped: Mapped, *, store_id: str, customer_id: str) -> Envelope:
    return Envelope.wrap(
        mapped.event,
        store_id=store_id,
        customer_id=customer_id,
        source=SOURCE,
        time=mapped.time,
        id=mapped.id,
    )


def guest_of_order(order_id: str) -> str:
    """The customer of an order Shopify gave no customer and no checkout (e.g. a POS sale)."""
    return f"anon:shopify-order:{order_id}"


def guest_of_checkout(token: str) -> str:
    """A guest is known by their checkout: the checkout and the order it became share this id."""
    return f"anon:shopify-checkout:{token}"


def order_placed(payload: dict[str, Any], store_id: str, rules: Rules) -> Mapped:
    """orders/create and orders/paid: one OrderPlaced per order, whichever arrives first."""
    order = parse(Order, payload)
    if order.total_price is None:
        raise Rejected("missing_field", "total_price is required", "total_price")
    placed_at = _first_time(order, ("processed_at", "created_at"))
    event = OrderPlaced(
        order_id=order.id,
        placed_at=placed_at,
        currency=_currency(order.currency, "currency"),
        total=order.total_price,
        subtotal=order.subtotal_price,
        tax=order.total_tax,
        shipping=_shop_amount(order.total_shipping_price_set),
        discount=order.total_discounts,
        coupon=",".join(c.code for c in order.discount_codes if c.code) or None,
        lines=[_line(item, f"line_items[{i}]") for i, item in enumerate(order.line_items)],
        email=_email(order),
        phone=_phone(order, rules),
    )
    return Mapped(_id(store_id, "order-placed", order.id), event, placed_at, _buyer(order), order_id=order.id)


def order_cancelled(payload: dict[str, Any], store_id: str, _rules: Rules) -> Mapped:
    order = parse(Order, payload)
    cancelled_at = _first_time(order, ("cancelled_at", "updated_at"))
    event = OrderCancelled(
        order_id=order.id,
        cancelled_at=cancelled_at,
        currency=_currency(order.currency, "currency"),
        total=order.total_price,
        reason=order.cancel_reason or None,
    )
    return Mapped(
        _id(store_id, "order-cancelled", order.id), event, cancelled_at, _buyer(order), order_id=order.id
    )


def order_refunded(payload: dict[str, Any], store_id: str, _rules: Rules) -> Mapped:
    """refunds/create: the amount is what the successful refund transactions paid back now."""
    refund = parse(Refund, payload)
    refunded_at = _first_time(refund, ("processed_at", "created_at"))
    amount, currency = _refunded_money(refund.transactions)
    lines = [
        _line(entry.line_item, f"refund_line_items[{i}].line_item", quantity=entry.quantity)
        for i, entry in enumerate(refund.refund_line_items)
    ]
    event = OrderRefunded(
        order_id=refund.order_id,
        refund_id=refund.id,
        refunded_at=refunded_at,
        currency=currency,
        amount=amount,
        lines=lines,
        reason=refund.note or None,
    )
    return Mapped(_id(store_id, "refund", refund.id), event, refunded_at, None, order_id=refund.order_id)


def customer_identified(payload: dict[str, Any], store_id: str, rules: Rules) -> Mapped:
    """customers/create and customers/update: contact details and marketing consent."""
    customer = parse(Customer, payload)
    if not customer.id:
        raise Rejected("missing_field", "id is required", "id")
    time = _first_time(customer, ("updated_at", "created_at"))
    sms = customer.sms_marketing_consent
    event = CustomerIdentified(
        email=first_present([(customer.email, "email")], normalise_email),
        phone=first_present([(customer.phone, "phone")], rules.phone),
        first_name=customer.first_name or None,
        last_name=customer.last_name or None,
        **consent_fields(
            email=_email_consent(customer),
            sms=_consent(sms, sms.consent_collected_from if sms else None),
        ),
    )
    # Two updates within Shopify's one-second resolution differ in content, so the content is
    # part of the id: only a true repeat of the same update is a duplicate.
    digest = hashlib.sha256(json.dumps(event.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
    envelope_id = _id(store_id, "customer", f"{customer.id}:{time.isoformat()}:{digest[:16]}")
    return Mapped(envelope_id, event, time, customer.id)


def checkout_started(payload: dict[str, Any], store_id: str, rules: Rules) -> Mapped:
    """checkouts/create: totals are in the buyer's (presentment) currency."""
    checkout = parse(Checkout, payload)
    checkout_id = first_id("", token=checkout.token, id=checkout.id)
    started_at = _first_time(checkout, ("created_at",))
    event = CheckoutStarted(
        checkout_id=checkout_id,
        started_at=started_at,
        currency=_currency(checkout.presentment_currency or checkout.currency, "presentment_currency"),
        total=checkout.total_price,
        lines=[_line(item, f"line_items[{i}]") for i, item in enumerate(checkout.line_items)],
        recovery_url=checkout.abandoned_checkout_url or None,
        email=first_present([(checkout.email, "email")], normalise_email),
        phone=first_present([(checkout.phone, "phone")], rules.phone),
    )
    customer_id = _customer_id(checkout.customer) or guest_of_checkout(checkout_id)
    return Mapped(_id(store_id, "checkout-started", checkout_id), event, started_at, customer_id)


_MAPPERS: dict[str, Callable[[dict[str, Any], str, Rules], Mapped]] = {
    "orders/create": order_placed,
    "orders/paid": order_placed,
    "orders/cancelled": order_cancelled,
    "refunds/create": order_refunded,
    "customers/create": customer_identified,
    "customers/update": customer_identified,
    "checkouts/create": checkout_started,
}
TOPICS = frozenset(_MAPPERS)


# --- helpers ---------------------------------------------------------------------------------


def _id(store_id: str, kind: str, key: str) -> str:
    return str(uuid.uuid5(_IDS, f"shopify/{store_id}/{kind}/{key}"))


def _customer_id(customer: Customer | None) -> str | None:
    return customer.id if customer is not None and customer.id else None


def _buyer(order: Order) -> str:
    """The Shopify customer id; a guest is known by their checkout, else by the order itself."""
    if customer_id := _customer_id(order.customer):
        return customer_id
    if order.checkout_token:
        return guest_of_checkout(order.checkout_token)
    return guest_of_order(order.id)


def _first_time(model: _Payload, names: tuple[str, ...]) -> datetime:
    for name in names:
        value = getattr(model, name)
        if value is not None:
            return value
    raise Rejected("missing_field", f"{names[0]} is required", names[0])


def _currency(value: str | None, field: str) -> str:
    # Shopify always sends one; without it, the Segment API's default.
    return currency_code(value or DEFAULT_CURRENCY, field)


def _shop_amount(money: MoneySet | None) -> Decimal | None:
    if money is None or money.shop_money is None:
        return None
    return money.shop_money.amount


def _line(item: LineItem, at: str, *, quantity: int | None = None) -> OrderLine:
    # Custom line items have no product; their SKU, then their title, is what identifies them.
    return order_line(
        at,
        {"product_id": item.product_id, "sku": item.sku, "title": item.title},
        price=item.price,
        quantity=quantity or item.quantity,
        sku=item.sku,
        name=item.name or item.title,
    )


def _refunded_money(transactions: list[Transaction]) -> tuple[Decimal, str]:
    """Sum the refunds that went through; failed and pending attempts paid nothing back."""
    amount = Decimal(0)
    currencies: set[str] = set()
    for index, transaction in enumerate(transactions):
        if transaction.kind != "refund" or transaction.status != "success":
            continue
        if transaction.amount is None:
            raise Rejected("missing_field", "amount is required", f"transactions[{index}].amount")
        amount += transaction.amount
        currencies.add(_currency(transaction.currency, f"transactions[{index}].currency"))
    if len(currencies) > 1:
        raise Rejected("invalid_currency", "refund transactions in more than one currency", "transactions")
    return amount, currencies.pop() if currencies else "USD"


def _email(order: Order) -> str | None:
    """The order's own contact first (what the buyer typed at checkout), then the customer's."""
    customer = order.customer
    return first_present(
        [
            (order.email, "email"),
            (order.contact_email, "contact_email"),
            (customer.email if customer else None, "customer.email"),
        ],
        normalise_email,
    )


def _phone(order: Order, rules: Rules) -> str | None:
    customer = order.customer
    return first_present(
        [(order.phone, "phone"), (customer.phone if customer else None, "customer.phone")], rules.phone
    )


def _consented(consent: MarketingConsent | None) -> bool | None:
    """True only for `subscribed`; None when Shopify said nothing (or a state it added later)."""
    if consent is None or not consent.state:
        return None
    state = consent.state.strip().lower()
    if state == _SUBSCRIBED:
        return True
    return False if state in _NOT_SUBSCRIBED else None


def _consent(consent: MarketingConsent | None, collected_from: str | None) -> Consent | None:
    """The consent Shopify reports, if it says one. The source is `shopify` or `other`
    (collected outside Shopify and imported) with the opt-in level: `shopify:confirmed_opt_in`."""
    given = _consented(consent)
    if given is None or consent is None:
        return None
    where = (collected_from or "shopify").strip().lower()
    source = f"{where}:{consent.opt_in_level}" if consent.opt_in_level else where
    return Consent(subscribed=given, source=source, at=consent.consent_updated_at)


def _email_consent(customer: Customer) -> Consent | None:
    if (consent := _consent(customer.email_marketing_consent, None)) is not None:
        return consent
    if customer.accepts_marketing is not None:
        return Consent(
            subscribed=customer.accepts_marketing,
            source="shopify:accepts_marketing",
            at=customer.accepts_marketing_updated_at,
        )
    return None

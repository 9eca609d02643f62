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
from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator

from boomerang.ingest.domain.contacts import normalise_email, normalise_phone, present
from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.domain.messages import MAX_MONEY, Lenient, OptionalId, parse
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


def _none_as_empty_list(value: Any) -> Any:
    return [] if value is None else value


def _utc_when_naive(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


Money = Annotated[Decimal | None, Field(ge=0, le=MAX_MONEY)]
Timestamp = Annotated[datetime | None, BeforeValidator(lambda v: None if v == "" else v)]
Quantity = Annotated[int, BeforeValidator(lambda v: 1 if v is None else v), Field(ge=1, le=1_000_000)]
RequiredId = Annotated[str, Field(min_length=1, max_length=200)]


class _Payload(Lenient):
    """Unknown fields are allowed: Shopify adds fields in every API version."""

    @field_validator("*", mode="after")
    @classmethod
    def _aware(cls, value: Any) -> Any:
        return _utc_when_naive(value) if isinstance(value, datetime) else value


class Consent(_Payload):
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
    email_marketing_consent: Consent | None = None
    sms_marketing_consent: Consent | None = None
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
    discount_codes: Annotated[list[DiscountCode], BeforeValidator(_none_as_empty_list)] = Field(
        default_factory=list
    )
    line_items: Annotated[list[LineItem], BeforeValidator(_none_as_empty_list)] = Field(default_factory=list)
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
    refund_line_items: Annotated[list[RefundLine], BeforeValidator(_none_as_empty_list)] = Field(
        default_factory=list
    )
    transactions: Annotated[list[Transaction], BeforeValidator(_none_as_empty_list)] = Field(
        default_factory=list
    )


class Checkout(_Payload):
    id: OptionalId = None
    token: OptionalId = None
    email: Any = None
    phone: Any = None
    created_at: Timestamp = None
    currency: str | None = None
    presentment_currency: str | None = None
    total_price: Money = None
    line_items: Annotated[list[LineItem], BeforeValidator(_none_as_empty_list)] = Field(default_factory=list)
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
    email_consent = _email_consent(customer)
    sms = customer.sms_marketing_consent
    event = CustomerIdentified(
        email=_contact(customer.email, "email", lambda v, f: normalise_email(v, f)),
        phone=_contact(
            customer.phone, "phone", lambda v, f: normalise_phone(v, f, rules.default_phone_region)
        ),
        first_name=customer.first_name or None,
        last_name=customer.last_name or None,
        email_marketing_consent=email_consent[0],
        email_marketing_consent_source=email_consent[1],
        email_marketing_consent_at=email_consent[2],
        sms_marketing_consent=_consented(sms),
        sms_marketing_consent_source=_consent_source(sms, sms.consent_collected_from if sms else None),
        sms_marketing_consent_at=sms.consent_updated_at if sms else None,
    )
    # Two updates within Shopify's one-second resolution differ in content, so the content is
    # part of the id: only a true repeat of the same update is a duplicate.
    digest = hashlib.sha256(json.dumps(event.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
    envelope_id = _id(store_id, "customer", f"{customer.id}:{time.isoformat()}:{digest[:16]}")
    return Mapped(envelope_id, event, time, customer.id)


def checkout_started(payload: dict[str, Any], store_id: str, rules: Rules) -> Mapped:
    """checkouts/create: totals are in the buyer's (presentment) currency."""
    checkout = parse(Checkout, payload)
    checkout_id = checkout.token or checkout.id
    if not checkout_id:
        raise Rejected("missing_field", "token (or id) is required", "token")
    started_at = _first_time(checkout, ("created_at",))
    event = CheckoutStarted(
        checkout_id=checkout_id,
        started_at=started_at,
        currency=_currency(checkout.presentment_currency or checkout.currency, "presentment_currency"),
        total=checkout.total_price,
        lines=[_line(item, f"line_items[{i}]") for i, item in enumerate(checkout.line_items)],
        recovery_url=checkout.abandoned_checkout_url or None,
        email=_contact(checkout.email, "email", lambda v, f: normalise_email(v, f)),
        phone=_contact(
            checkout.phone, "phone", lambda v, f: normalise_phone(v, f, rules.default_phone_region)
        ),
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
    if not value:
        return "USD"  # Shopify always sends one; the Segment API's default otherwise
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise Rejected("invalid_currency", "currency must be an ISO 4217 code like USD", field)
    return value.upper()


def _shop_amount(money: MoneySet | None) -> Decimal | None:
    if money is None or money.shop_money is None:
        return None
    return money.shop_money.amount


def _line(item: LineItem, at: str, *, quantity: int | None = None) -> OrderLine:
    # Custom line items have no product; their SKU, then their title, is what identifies them.
    product_id = item.product_id or item.sku or item.title
    if not product_id:
        raise Rejected("missing_field", "product_id (or sku or title) is required", f"{at}.product_id")
    if item.price is None:
        raise Rejected("missing_field", "price is required on line items", f"{at}.price")
    return OrderLine(
        product_id=product_id,
        sku=item.sku,
        name=item.name or item.title or product_id,
        quantity=quantity or item.quantity,
        unit_price=item.price,
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


def _contact(value: Any, field: str, normalise: Callable[[Any, str], str]) -> str | None:
    return normalise(value, field) if present(value) else None


def _email(order: Order) -> str | None:
    """The order's own contact first (what the buyer typed at checkout), then the customer's."""
    for value, field in (
        (order.email, "email"),
        (order.contact_email, "contact_email"),
        (order.customer.email if order.customer else None, "customer.email"),
    ):
        if present(value):
            return normalise_email(value, field)
    return None


def _phone(order: Order, rules: Rules) -> str | None:
    for value, field in (
        (order.phone, "phone"),
        (order.customer.phone if order.customer else None, "customer.phone"),
    ):
        if present(value):
            return normalise_phone(value, field, rules.default_phone_region)
    return None


def _consented(consent: Consent | None) -> bool | None:
    """True only for `subscribed`; None when Shopify said nothing (or a state it added later)."""
    if consent is None or not consent.state:
        return None
    state = consent.state.strip().lower()
    if state == _SUBSCRIBED:
        return True
    return False if state in _NOT_SUBSCRIBED else None


def _consent_source(consent: Consent | None, collected_from: str | None) -> str | None:
    """`shopify` or `other` (collected outside Shopify and imported), with the opt-in level:
    e.g. `shopify:confirmed_opt_in`."""
    if _consented(consent) is None or consent is None:
        return None
    where = (collected_from or "shopify").strip().lower()
    return f"{where}:{consent.opt_in_level}" if consent.opt_in_level else where


def _email_consent(customer: Customer) -> tuple[bool | None, str | None, datetime | None]:
    consent = customer.email_marketing_consent
    given = _consented(consent)
    if given is not None and consent is not None:
        return given, _consent_source(consent, None), consent.consent_updated_at
    if customer.accepts_marketing is not None:
        return customer.accepts_marketing, "shopify:accepts_marketing", customer.accepts_marketing_updated_at
    return None, None, None

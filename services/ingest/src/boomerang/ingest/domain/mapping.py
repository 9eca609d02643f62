"""Segment calls to Boomerang events: one pure function per call type, all raising `Rejected`.

Field paths in rejections are relative to the message (`traits.email`); the batch handler
prefixes them with `batch[i]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boomerang.ingest.domain.contacts import (
    consent,
    normalise_email,
    normalise_phone,
    present,
    valid_locale,
    valid_timezone,
)
from boomerang.ingest.domain.messages import (
    Message,
    OrderCompletedProperties,
    PageProperties,
    ProductProperties,
    ProductViewedProperties,
    parse,
)
from boomerang.ingest.domain.rejections import Rejected
from boomerang.shared.events import (
    CustomerIdentified,
    CustomEventTracked,
    Envelope,
    Event,
    OrderLine,
    OrderPlaced,
    PageViewed,
    ProductViewed,
)

SOURCE = "ingest"
CALL_TYPES = ("identify", "track", "page")

# Trait names read into typed fields (first present wins); documented in the README.
EMAIL_TRAITS = ("email",)
PHONE_TRAITS = ("phone",)
FIRST_NAME_TRAITS = ("firstName", "first_name")
LAST_NAME_TRAITS = ("lastName", "last_name")
EMAIL_CONSENT_TRAITS = ("email_consent", "emailConsent", "email_marketing_consent")
SMS_CONSENT_TRAITS = ("sms_consent", "smsConsent", "sms_marketing_consent")
MAPPED_TRAITS = frozenset(
    EMAIL_TRAITS
    + PHONE_TRAITS
    + FIRST_NAME_TRAITS
    + LAST_NAME_TRAITS
    + EMAIL_CONSENT_TRAITS
    + SMS_CONSENT_TRAITS
    + ("timezone", "locale")
)


@dataclass(frozen=True)
class Rules:
    """The settings mapping depends on."""

    default_phone_region: str = "US"


def to_envelope(
    raw: Any,
    *,
    call: str | None,
    store_id: str,
    received_at: datetime,
    new_id: str,
    rules: Rules,
) -> Envelope:
    """Map one Segment call. `call` is fixed by the endpoint, or None to read `type` (batch items).

    `new_id` is used when the shop sent no messageId; `received_at` is our clock at receipt.
    """
    if not isinstance(raw, dict):
        raise Rejected("invalid_field", "an event must be a JSON object")
    message = parse(Message, raw)
    call = call or _call_type(message.type)
    customer_id = customer_id_of(message)
    time = event_time(message, received_at)
    event = MAPPERS[call](message, time, rules)
    return Envelope.wrap(
        event,
        store_id=store_id,
        customer_id=customer_id,
        source=SOURCE,
        time=time,
        id=message.messageId or new_id,
    )


def customer_id_of(message: Message) -> str:
    if message.userId:
        return message.userId
    if message.anonymousId:
        return f"anon:{message.anonymousId}"
    raise Rejected("missing_identity", "userId or anonymousId is required", "userId")


def event_time(message: Message, received_at: datetime) -> datetime:
    """Segment's rule: `timestamp` if sent; else `originalTimestamp` corrected for the
    device's clock skew (receivedAt - (sentAt - originalTimestamp)); else receivedAt."""
    if message.timestamp is not None:
        return message.timestamp
    if message.originalTimestamp is not None and message.sentAt is not None:
        return received_at - (message.sentAt - message.originalTimestamp)
    return received_at


def _call_type(value: str | None) -> str:
    if not value:
        raise Rejected("missing_field", "type is required (identify, track or page)", "type")
    if value not in CALL_TYPES:
        raise Rejected(
            "unsupported_type", f"type {value!r} is not supported; use identify, track or page", "type"
        )
    return value


def identified(message: Message, _time: datetime, rules: Rules) -> CustomerIdentified:
    traits = message.traits
    email = _first(traits, EMAIL_TRAITS, "traits", lambda v, f: normalise_email(v, f))
    phone = _first(
        traits, PHONE_TRAITS, "traits", lambda v, f: normalise_phone(v, f, rules.default_phone_region)
    )
    return CustomerIdentified(
        email=email,
        phone=phone,
        first_name=_first(traits, FIRST_NAME_TRAITS, "traits", _text),
        last_name=_first(traits, LAST_NAME_TRAITS, "traits", _text),
        timezone=_from_traits_or_context(traits, message.context.timezone, "timezone", valid_timezone),
        locale=_from_traits_or_context(traits, message.context.locale, "locale", valid_locale),
        email_marketing_consent=_first(traits, EMAIL_CONSENT_TRAITS, "traits", consent),
        sms_marketing_consent=_first(traits, SMS_CONSENT_TRAITS, "traits", consent),
        traits={k: v for k, v in traits.items() if k not in MAPPED_TRAITS},
    )


def tracked(message: Message, time: datetime, rules: Rules) -> Event:
    if not message.event:
        raise Rejected("missing_field", "event is required on track calls", "event")
    kind = " ".join(message.event.replace("_", " ").split()).lower()
    if kind == "order completed":
        return order_placed(message, time, rules)
    if kind == "product viewed":
        return product_viewed(message)
    return CustomEventTracked(name=message.event, properties=message.properties)


def order_placed(message: Message, time: datetime, rules: Rules) -> OrderPlaced:
    props = parse(OrderCompletedProperties, message.properties, "properties")
    # Spec v2: total includes shipping and tax; revenue is what older integrations send instead.
    total = props.total if props.total is not None else props.revenue
    if total is None:
        raise Rejected("missing_field", "total (or revenue) is required", "properties.total")
    return OrderPlaced(
        order_id=props.order_id,
        placed_at=time,
        currency=_currency(props.currency),
        total=total,
        subtotal=props.subtotal,
        tax=props.tax,
        shipping=props.shipping,
        discount=props.discount,
        coupon=props.coupon or None,
        lines=[_line(product, i) for i, product in enumerate(props.products)],
        email=_contact(message, "email", lambda v, f: normalise_email(v, f)),
        phone=_contact(message, "phone", lambda v, f: normalise_phone(v, f, rules.default_phone_region)),
    )


def product_viewed(message: Message) -> ProductViewed:
    props = parse(ProductViewedProperties, message.properties, "properties")
    product_id = props.product_id or props.sku
    if not product_id:
        raise Rejected("missing_field", "product_id (or sku) is required", "properties.product_id")
    return ProductViewed(
        product_id=product_id, name=props.name, category=props.category, price=props.price, url=props.url
    )


def page_viewed(message: Message, _time: datetime, _rules: Rules) -> PageViewed:
    props = parse(PageProperties, message.properties, "properties")
    page = message.context.page

    def from_context(name: str) -> str | None:
        value = page.get(name)
        return value if isinstance(value, str) else None

    return PageViewed(
        name=message.name,
        url=props.url or from_context("url"),
        path=props.path or from_context("path"),
        title=props.title or from_context("title"),
        referrer=props.referrer or from_context("referrer"),
    )


MAPPERS: dict[str, Callable[[Message, datetime, Rules], Event]] = {
    "identify": identified,
    "track": tracked,
    "page": page_viewed,
}


def _line(product: ProductProperties, index: int) -> OrderLine:
    at = f"properties.products[{index}]"
    product_id = product.product_id or product.sku
    if not product_id:
        raise Rejected("missing_field", "product_id (or sku) is required", f"{at}.product_id")
    if product.price is None:
        raise Rejected("missing_field", "price is required on order lines", f"{at}.price")
    return OrderLine(
        product_id=product_id,
        sku=product.sku,
        # A line without a name is still a sale; the id is the best label we have.
        name=product.name or product_id,
        category=product.category,
        quantity=product.quantity,
        unit_price=product.price,
        url=product.url,
    )


def _currency(value: str | None) -> str:
    if value is None or value == "":
        return "USD"  # the E-commerce spec's default
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise Rejected(
            "invalid_currency", "currency must be an ISO 4217 code like USD", "properties.currency"
        )
    return value.upper()


def _contact(message: Message, name: str, normalise: Callable[[Any, str], str]) -> str | None:
    """An order's email/phone: from its properties, else from the traits the SDK attached."""
    if present(message.properties.get(name)):
        return normalise(message.properties[name], f"properties.{name}")
    if present(message.context.traits.get(name)):
        return normalise(message.context.traits[name], f"context.traits.{name}")
    return None


def _first(traits: dict[str, Any], names: tuple[str, ...], at: str, read: Callable[[Any, str], Any]) -> Any:
    for name in names:
        if present(traits.get(name)):
            return read(traits[name], f"{at}.{name}")
    return None


def _from_traits_or_context(
    traits: dict[str, Any], context_value: Any, name: str, read: Callable[[Any, str], str]
) -> str | None:
    if present(traits.get(name)):
        return read(traits[name], f"traits.{name}")
    # Libraries fill context.timezone/locale themselves; a bad one is ignored, not the shop's error.
    if present(context_value):
        try:
            return read(context_value, f"context.{name}")
        except Rejected:
            return None
    return None


def _text(value: Any, field: str) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > 200:
        raise Rejected("invalid_field", "must be a string of at most 200 characters", field)
    return value.strip()

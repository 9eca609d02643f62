"""Segment calls to Boomerang events: one pure function per call type, all raising `Rejected`.

Field paths in rejections are relative to the message (`traits.email`); the batch handler
prefixes them with `batch[i]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from boomerang.ingest.domain.contacts import (
    DEFAULT_CURRENCY,
    Consent,
    birthday,
    consent_fields,
    consent_of,
    currency_code,
    first_present,
    normalise_email,
    normalise_phone,
    present,
    valid_locale,
    valid_timezone,
)
from boomerang.ingest.domain.identity import Link, links_of
from boomerang.ingest.domain.messages import (
    CartViewedProperties,
    CheckoutStartedProperties,
    Message,
    OrderCancelledProperties,
    OrderCompletedProperties,
    OrderRefundedProperties,
    PageProperties,
    ProductAddedProperties,
    ProductProperties,
    ProductViewedProperties,
    parse,
    sane_time,
)
from boomerang.ingest.domain.rejections import Rejected, join_path
from boomerang.shared.events import (
    CartViewed,
    CheckoutStarted,
    CustomerGrouped,
    CustomerIdentified,
    CustomEventTracked,
    Envelope,
    Event,
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

SOURCE = "ingest"
CALL_TYPES = ("identify", "track", "page", "screen", "group", "alias")


@dataclass(frozen=True)
class ConsentTraits:
    """The trait names of one consent: the flag (or object), its source and its time."""

    flags: tuple[str, ...]
    sources: tuple[str, ...]
    times: tuple[str, ...]

    def names(self) -> tuple[str, ...]:
        return self.flags + self.sources + self.times


# Trait names read into typed fields (first present wins); documented in the README.
EMAIL_TRAITS = ("email",)
PHONE_TRAITS = ("phone",)
FIRST_NAME_TRAITS = ("firstName", "first_name")
LAST_NAME_TRAITS = ("lastName", "last_name")
BIRTHDAY_TRAITS = ("birthday",)
EMAIL_CONSENT = ConsentTraits(
    flags=("email_consent", "emailConsent", "email_marketing_consent"),
    sources=("email_consent_source", "emailConsentSource", "email_marketing_consent_source"),
    times=("email_consent_at", "emailConsentAt", "email_marketing_consent_at"),
)
SMS_CONSENT = ConsentTraits(
    flags=("sms_consent", "smsConsent", "sms_marketing_consent"),
    sources=("sms_consent_source", "smsConsentSource", "sms_marketing_consent_source"),
    times=("sms_consent_at", "smsConsentAt", "sms_marketing_consent_at"),
)
MAPPED_TRAITS = frozenset(
    EMAIL_TRAITS
    + PHONE_TRAITS
    + FIRST_NAME_TRAITS
    + LAST_NAME_TRAITS
    + BIRTHDAY_TRAITS
    + EMAIL_CONSENT.names()
    + SMS_CONSENT.names()
    + ("timezone", "locale")
)


@dataclass(frozen=True)
class Rules:
    """The settings mapping depends on."""

    default_phone_region: str = "US"

    def phone(self, value: Any, field: str) -> str:
        """E.164; national numbers are read in the default region."""
        return normalise_phone(value, field, self.default_phone_region)


@dataclass(frozen=True)
class Mapped:
    """One call as an envelope, and the identity links it states (identify, alias)."""

    envelope: Envelope
    links: tuple[Link, ...] = ()


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
    return to_call(
        raw, call=call, store_id=store_id, received_at=received_at, new_id=new_id, rules=rules
    ).envelope


def to_call(
    raw: Any,
    *,
    call: str | None,
    store_id: str,
    received_at: datetime,
    new_id: str,
    rules: Rules,
) -> Mapped:
    """`to_envelope`, with the links the call states."""
    if not isinstance(raw, dict):
        raise Rejected("invalid_field", "an event must be a JSON object")
    message = parse(Message, raw)
    call = call or _call_type(message.type)
    customer_id = customer_id_of(message)
    time = event_time(message, received_at)
    event = MAPPERS[call](message, time, rules)
    envelope = Envelope.wrap(
        event,
        store_id=store_id,
        customer_id=customer_id,
        source=SOURCE,
        time=time,
        id=message.messageId or new_id,
    )
    links = links_of(
        call,
        user_id=message.userId,
        anonymous_id=message.anonymousId,
        previous_id=message.previousId,
        time=time,
    )
    return Mapped(envelope, links)


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
        corrected = received_at - (message.sentAt - message.originalTimestamp)
        if not sane_time(corrected):
            raise Rejected(
                "invalid_timestamp",
                "sentAt and originalTimestamp put the event before 1970 or after 2100",
                "originalTimestamp",
            )
        return corrected
    return received_at


def _call_type(value: str | None) -> str:
    known = ", ".join(CALL_TYPES)
    if not value:
        raise Rejected("missing_field", f"type is required ({known})", "type")
    if value not in CALL_TYPES:
        raise Rejected("unsupported_type", f"type {value!r} is not supported; use {known}", "type")
    return value


# --- identify, group, alias ---------------------------------------------------------------


def identified(message: Message, time: datetime, rules: Rules) -> CustomerIdentified:
    traits = message.traits
    # A day of slack: the customer's "today" may already be tomorrow in UTC.
    latest_birthday = (time + timedelta(days=1)).date()
    return CustomerIdentified(
        email=_first(traits, EMAIL_TRAITS, normalise_email),
        phone=_first(traits, PHONE_TRAITS, rules.phone),
        first_name=_first(traits, FIRST_NAME_TRAITS, _text),
        last_name=_first(traits, LAST_NAME_TRAITS, _text),
        timezone=_from_traits_or_context(traits, message.context.timezone, "timezone", valid_timezone),
        locale=_from_traits_or_context(traits, message.context.locale, "locale", valid_locale),
        birthday=_first(traits, BIRTHDAY_TRAITS, lambda v, f: birthday(v, f, latest_birthday)),
        **consent_fields(
            email=_consent(traits, EMAIL_CONSENT, time), sms=_consent(traits, SMS_CONSENT, time)
        ),
        traits={k: v for k, v in traits.items() if k not in MAPPED_TRAITS},
    )


def grouped(message: Message, _time: datetime, _rules: Rules) -> CustomerGrouped:
    if not message.groupId:
        raise Rejected("missing_field", "groupId is required on group calls", "groupId")
    return CustomerGrouped(group_id=message.groupId, traits=message.traits)


def aliased(message: Message, _time: datetime, _rules: Rules) -> IdentityLinked:
    # The alias call is published as it was said: "previousId is userId from now on". Which
    # customer ids that links (anon:<previousId> and <previousId>) is identity's business.
    if not message.userId:
        raise Rejected("missing_field", "userId is required on alias calls", "userId")
    if not message.previousId:
        raise Rejected("missing_field", "previousId is required on alias calls", "previousId")
    return IdentityLinked(previous_id=message.previousId, via="alias")


# --- track: E-commerce Spec v2 --------------------------------------------------------------


def tracked(message: Message, time: datetime, rules: Rules) -> Event:
    if not message.event:
        raise Rejected("missing_field", "event is required on track calls", "event")
    mapper = TRACKED.get(event_name(message.event))
    if mapper is None:
        return CustomEventTracked(name=message.event, properties=message.properties)
    return mapper(message, time, rules)


def event_name(name: str) -> str:
    """The name as matched: any case, `_` as a space, runs of spaces as one."""
    return " ".join(name.replace("_", " ").split()).lower()


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
        lines=_lines(props.products),
        email=_contact(message, "email", normalise_email),
        phone=_contact(message, "phone", rules.phone),
    )


def order_refunded(message: Message, time: datetime, _rules: Rules) -> OrderRefunded:
    props = parse(OrderRefundedProperties, message.properties, "properties")
    lines = _lines(props.products)  # a partial refund lists what went back
    amount = _first_amount(props.total, props.revenue)
    if amount is None and lines:
        amount = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
    if amount is None:
        raise Rejected("missing_field", "total, revenue or products is required", "properties.total")
    return OrderRefunded(
        order_id=props.order_id,
        refund_id=props.refund_id,
        refunded_at=time,
        currency=_currency(props.currency),
        amount=amount,
        lines=lines,
        reason=props.reason,
    )


def order_cancelled(message: Message, time: datetime, _rules: Rules) -> OrderCancelled:
    props = parse(OrderCancelledProperties, message.properties, "properties")
    total = _first_amount(props.total, props.revenue)
    currency = _currency(props.currency) if props.currency or total is not None else None
    return OrderCancelled(
        order_id=props.order_id, cancelled_at=time, currency=currency, total=total, reason=props.reason
    )


def checkout_started(message: Message, time: datetime, rules: Rules) -> CheckoutStarted:
    props = parse(CheckoutStartedProperties, message.properties, "properties")
    # Spec v2 names the transaction order_id on Checkout Started and checkout_id on its later
    # steps; a cart id is the last resort that still lets a reminder find the cart again.
    checkout_id = first_id(
        "properties", checkout_id=props.checkout_id, order_id=props.order_id, cart_id=props.cart_id
    )
    return CheckoutStarted(
        checkout_id=checkout_id,
        started_at=time,
        currency=_currency(props.currency),
        total=_first_amount(props.total, props.value, props.revenue),
        lines=_lines(props.products),
        recovery_url=props.recovery_url or props.checkout_url,
        email=_contact(message, "email", normalise_email),
        phone=_contact(message, "phone", rules.phone),
    )


def product_viewed(message: Message, _time: datetime, _rules: Rules) -> ProductViewed:
    props = parse(ProductViewedProperties, message.properties, "properties")
    return ProductViewed(**_product(props))


def product_added(message: Message, _time: datetime, _rules: Rules) -> ProductAddedToCart:
    props = parse(ProductAddedProperties, message.properties, "properties")
    return ProductAddedToCart(
        **_product(props), cart_id=props.cart_id, sku=props.sku, quantity=props.quantity
    )


def cart_viewed(message: Message, _time: datetime, _rules: Rules) -> CartViewed:
    props = parse(CartViewedProperties, message.properties, "properties")
    return CartViewed(cart_id=props.cart_id, lines=_lines(props.products))


# Event names as `event_name` reads them; v1 names the spec lists as aliases are accepted too.
TRACKED: dict[str, Callable[[Message, datetime, Rules], Event]] = {
    "order completed": order_placed,
    "completed order": order_placed,
    "order refunded": order_refunded,
    "order cancelled": order_cancelled,
    "order canceled": order_cancelled,
    "checkout started": checkout_started,
    "started order": checkout_started,
    "product viewed": product_viewed,
    "viewed product": product_viewed,
    "product added": product_added,
    "added product": product_added,
    "cart viewed": cart_viewed,
}


# --- page and screen ------------------------------------------------------------------------


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


def screen_viewed(message: Message, _time: datetime, _rules: Rules) -> ScreenViewed:
    return ScreenViewed(name=message.name, properties=message.properties)


MAPPERS: dict[str, Callable[[Message, datetime, Rules], Event]] = {
    "identify": identified,
    "track": tracked,
    "page": page_viewed,
    "screen": screen_viewed,
    "group": grouped,
    "alias": aliased,
}


# --- helpers --------------------------------------------------------------------------------


def first_id(at: str, **ids: str | None) -> str:
    """The first of the ids named that is there, e.g. `first_id(at, product_id=..., sku=...)`;
    `missing_field` at the first name if none is."""
    found = next((value for value in ids.values() if value), None)
    if found is None:
        first, *others = ids
        instead = f" (or {', or '.join(others)})" if others else ""
        raise Rejected("missing_field", f"{first}{instead} is required", join_path(at, first))
    return found


def order_line(
    at: str,
    ids: dict[str, str | None],
    *,
    price: Decimal | None,
    quantity: int,
    sku: str | None = None,
    name: str | None = None,
    category: str | None = None,
    url: str | None = None,
) -> OrderLine:
    """A line of an order, refund, checkout or cart, from any entrypoint: the product is the
    first of `ids` there, and the price per unit is required."""
    product_id = first_id(at, **ids)
    if price is None:
        raise Rejected("missing_field", "price is required on order lines", f"{at}.price")
    # A line without a name is still a sale; the id is the best label we have.
    return OrderLine(
        product_id=product_id,
        sku=sku,
        name=name or product_id,
        category=category,
        quantity=quantity,
        unit_price=price,
        url=url,
    )


def _lines(products: list[ProductProperties]) -> list[OrderLine]:
    return [
        order_line(
            f"properties.products[{index}]",
            {"product_id": product.product_id, "sku": product.sku},
            price=product.price,
            quantity=product.quantity,
            sku=product.sku,
            name=product.name,
            category=product.category,
            url=product.url,
        )
        for index, product in enumerate(products)
    ]


def _product(props: ProductViewedProperties) -> dict[str, Any]:
    """What Product Viewed and Product Added say of the product."""
    return {
        "product_id": first_id("properties", product_id=props.product_id, sku=props.sku),
        "name": props.name,
        "category": props.category,
        "price": props.price,
        "url": props.url,
    }


def _first_amount(*amounts: Decimal | None) -> Decimal | None:
    return next((amount for amount in amounts if amount is not None), None)


def _currency(value: str | None) -> str:
    return currency_code(value or DEFAULT_CURRENCY, "properties.currency")


def _contact(message: Message, name: str, normalise: Callable[[Any, str], str]) -> str | None:
    """An order's email/phone: from its properties, else from the traits the SDK attached."""
    return first_present(
        (
            (message.properties.get(name), f"properties.{name}"),
            (message.context.traits.get(name), f"context.traits.{name}"),
        ),
        normalise,
    )


def _consent(traits: dict[str, Any], names: ConsentTraits, time: datetime) -> Consent | None:
    flag = _present_name(traits, names.flags)
    if flag is None:
        return None  # a source or time without the consent itself says nothing
    source = _present_name(traits, names.sources) or names.sources[0]
    at = _present_name(traits, names.times) or names.times[0]
    return consent_of(
        traits[flag],
        f"traits.{flag}",
        source=traits.get(source),
        at=traits.get(at),
        source_field=f"traits.{source}",
        at_field=f"traits.{at}",
        event_time=time,
    )


def _present_name(traits: dict[str, Any], names: tuple[str, ...]) -> str | None:
    return next((name for name in names if present(traits.get(name))), None)


def _first(traits: dict[str, Any], names: tuple[str, ...], read: Callable[[Any, str], Any]) -> Any:
    return first_present(((traits.get(name), f"traits.{name}") for name in names), read)


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

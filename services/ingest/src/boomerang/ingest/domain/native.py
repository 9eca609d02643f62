"""Boomerang's own typed events, sent as they are by a shop's backend (`POST /v1/events`).

Each event is `{id?, type, time?, customer_id, data}`; `data` is the pydantic model registered
for `type` in `boomerang.shared.events`, checked as strictly as the Segment mapping checks what it
builds (contacts normalised, money bounded). Field paths are relative to the request body:
`data.total` for a single event, `events[3].data.total` in a list.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from boomerang.ingest.domain.batch import listed_items
from boomerang.ingest.domain.contacts import currency_code, normalise_email, valid_locale, valid_timezone
from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.domain.messages import MAX_MONEY, parse
from boomerang.ingest.domain.rejections import Rejected, join_path
from boomerang.shared.events import (
    CartViewed,
    CheckoutStarted,
    CustomerGrouped,
    CustomerIdentified,
    CustomEventTracked,
    Envelope,
    Event,
    OrderCancelled,
    OrderPlaced,
    OrderRefunded,
    PageViewed,
    ProductAddedToCart,
    ProductViewed,
    ScreenViewed,
)

SOURCE = "ingest.native"

# What a shop may state itself. Not IdentityLinked (ingest derives it from identify/alias and
# re-keys the history with it), nor segments, messages or privacy: those are Boomerang's to say.
NATIVE_EVENTS: dict[str, type[Event]] = {
    model.event_type: model
    for model in (
        CustomerIdentified,
        OrderPlaced,
        OrderRefunded,
        OrderCancelled,
        CheckoutStarted,
        ProductAddedToCart,
        CartViewed,
        ProductViewed,
        PageViewed,
        ScreenViewed,
        CustomerGrouped,
        CustomEventTracked,
    )
}

EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
MAX_INT = 10**12  # beyond any count or amount a shop has; keeps consumers' arithmetic finite


class NativeEvent(BaseModel):
    """The wrapper around `data`: who, when, which type, and the id that de-duplicates it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: EventId | None = Field(default=None, description="de-duplication key; assigned when missing")
    type: str = Field(description="a registered event type, e.g. commerce.order.placed")
    time: AwareDatetime | None = Field(default=None, description="when it happened; receipt time if missing")
    customer_id: CustomerId = Field(description="the shop's id of the customer")
    data: dict[str, Any]


def native_items(body: dict[str, Any], max_events: int) -> tuple[list[Any], bool]:
    """The events of a request and whether they came as a list (`{"events": [...]}`)."""
    if "events" not in body:
        return [_without_key(body)], False
    extra = sorted(set(body) - {"events", "writeKey"})
    if extra:
        raise Rejected("invalid_field", "a list of events has only events (and writeKey)", extra[0])
    return listed_items(body, "events", max_events), True


def to_envelope(raw: Any, *, store_id: str, received_at: datetime, new_id: str, rules: Rules) -> Envelope:
    """One native event, checked and wrapped; `new_id` is used when the shop sent no id."""
    if not isinstance(raw, dict):
        raise Rejected("invalid_field", "an event must be a JSON object")
    wrapper = parse(NativeEvent, raw)
    model = NATIVE_EVENTS.get(wrapper.type)
    if model is None:
        raise Rejected(
            "unsupported_type",
            f"type {wrapper.type[:100]!r} is not an event a shop can send; GET /v1/schemas lists them",
            "type",
        )
    event = _normalised(parse(model, wrapper.data, "data"), rules)
    _check_bounds(event, "data")
    return Envelope.wrap(
        event,
        store_id=store_id,
        customer_id=wrapper.customer_id,
        source=SOURCE,
        time=wrapper.time or received_at,
        id=wrapper.id or new_id,
    )


def _without_key(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "writeKey"}


def _normalised(event: Event, rules: Rules) -> Event:
    """Contacts in one form for every service, as the Segment mapping leaves them."""
    checks = {
        "email": normalise_email,
        "phone": rules.phone,
        "timezone": valid_timezone,
        "locale": valid_locale,
        "currency": currency_code,
    }
    updates = {
        name: check(getattr(event, name), f"data.{name}")
        for name, check in checks.items()
        if getattr(event, name, None) is not None
    }
    return event.model_copy(update=updates) if updates else event


def _check_bounds(model: BaseModel, at: str) -> None:
    """Amounts and counts within reason: 1e400 as a string is a valid Decimal and a poison message."""
    for value, field in _numbers(model, at):
        if abs(value) > (MAX_MONEY if isinstance(value, Decimal) else MAX_INT):
            raise Rejected("invalid_field", f"must be at most {MAX_MONEY:,.0f}", field)


def _numbers(value: Any, at: str) -> Iterator[tuple[Decimal | int, str]]:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _numbers(getattr(value, name), join_path(at, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _numbers(item, f"{at}[{index}]")
    elif isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        yield value, at

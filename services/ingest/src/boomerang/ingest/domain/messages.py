"""The Segment Tracking API message shape, as much of it as ingest reads.

Unknown fields are allowed (Segment libraries send plenty: integrations, context.library...).
Numbers are accepted where the spec says string (ids), because shops send numeric ids.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from boomerang.ingest.domain.rejections import Rejected, join_path, path_of

MAX_ID_LENGTH = 200
M = TypeVar("M", bound=BaseModel)
MAX_MONEY = Decimal("1e12")


def _none_as_empty(value: Any) -> Any:
    return {} if value is None else value


def _blank_as_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


JsonObject = Annotated[dict[str, Any], BeforeValidator(_none_as_empty)]
OptionalId = Annotated[
    Annotated[str, StringConstraints(max_length=MAX_ID_LENGTH)] | None, BeforeValidator(_blank_as_none)
]
MessageId = Annotated[
    Annotated[str, StringConstraints(max_length=128)] | None, BeforeValidator(_blank_as_none)
]
Money = Annotated[Decimal | None, Field(ge=0, le=MAX_MONEY)]


class Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, str_strip_whitespace=True)


class Context(Lenient):
    traits: JsonObject = Field(default_factory=dict)
    page: JsonObject = Field(default_factory=dict)
    timezone: Any = None
    locale: Any = None


class Message(Lenient):
    type: str | None = None
    messageId: MessageId = None  # becomes the envelope id, which allows 128 characters
    userId: OptionalId = None
    anonymousId: OptionalId = None
    timestamp: datetime | None = None
    originalTimestamp: datetime | None = None
    sentAt: datetime | None = None
    context: Annotated[Context, BeforeValidator(_none_as_empty)] = Field(default_factory=Context)
    traits: JsonObject = Field(default_factory=dict)
    event: OptionalId = None
    name: str | None = None
    properties: JsonObject = Field(default_factory=dict)

    @field_validator("timestamp", "originalTimestamp", "sentAt")
    @classmethod
    def _utc_when_naive(cls, value: datetime | None) -> datetime | None:
        # Segment reads timestamps without an offset as UTC.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class ProductProperties(Lenient):
    """One entry of `products[]` (E-commerce Spec v2)."""

    product_id: OptionalId = None
    sku: OptionalId = None
    name: str | None = None
    category: str | None = None
    price: Money = None
    quantity: Annotated[int, BeforeValidator(lambda v: 1 if v is None else v)] = Field(
        default=1, ge=1, le=1_000_000
    )
    url: str | None = None


class OrderCompletedProperties(Lenient):
    order_id: Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
    total: Money = None
    revenue: Money = None
    subtotal: Money = None
    tax: Money = None
    shipping: Money = None
    discount: Money = None
    coupon: str | None = None
    currency: str | None = None
    products: Annotated[list[ProductProperties], BeforeValidator(lambda v: [] if v is None else v)] = Field(
        default_factory=list
    )
    email: Any = None
    phone: Any = None


class ProductViewedProperties(Lenient):
    product_id: OptionalId = None
    sku: OptionalId = None
    name: str | None = None
    category: str | None = None
    price: Money = None
    url: str | None = None


class PageProperties(Lenient):
    url: str | None = None
    path: str | None = None
    title: str | None = None
    referrer: str | None = None


def parse(model: type[M], data: Any, at: str = "") -> M:
    """Validate `data`, turning the first pydantic error into a rejection with its field path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = join_path(at, path_of(error["loc"]))
        raise Rejected(_code_of(error), _message_of(error), field) from None


def _code_of(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "missing_field"
    if kind.startswith(("datetime", "date_")):
        return "invalid_timestamp"
    return "invalid_field"


def _message_of(error: Any) -> str:
    return str(error["msg"])

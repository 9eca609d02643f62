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
from pydantic_core import PydanticCustomError

from boomerang.ingest.domain.rejections import Rejected, join_path, path_of

MAX_ID_LENGTH = 200
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
MAX_MONEY = Decimal("1e12")
# Times outside these are a broken clock, and near datetime's limits arithmetic would overflow.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)


def sane_time(value: datetime) -> bool:
    return EARLIEST <= value < LATEST


def as_utc_if_naive(value: datetime) -> datetime:
    """Segment and Shopify times without an offset are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _none_as_empty(value: Any) -> Any:
    return {} if value is None else value


def _none_as_empty_list(value: Any) -> Any:
    return [] if value is None else value


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
Quantity = Annotated[int, BeforeValidator(lambda v: 1 if v is None else v), Field(ge=1, le=1_000_000)]
RequiredId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
ListOrNull = Annotated[list[T], BeforeValidator(_none_as_empty_list)]  # null is an empty list


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
    groupId: OptionalId = None  # group calls
    previousId: OptionalId = None  # alias calls
    properties: JsonObject = Field(default_factory=dict)

    @field_validator("timestamp", "originalTimestamp", "sentAt")
    @classmethod
    def _utc_when_naive(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        value = as_utc_if_naive(value)
        if not sane_time(value):
            raise PydanticCustomError("datetime_range", "must lie between 1970 and 2100")
        return value


class ProductViewedProperties(Lenient):
    product_id: OptionalId = None
    sku: OptionalId = None
    name: str | None = None
    category: str | None = None
    price: Money = None
    url: str | None = None


class ProductProperties(ProductViewedProperties):
    """One entry of `products[]` (E-commerce Spec v2)."""

    quantity: Quantity = 1


class ProductAddedProperties(ProductProperties):
    cart_id: OptionalId = None


Products = ListOrNull[ProductProperties]
Text = Annotated[Annotated[str, StringConstraints(max_length=500)] | None, BeforeValidator(_blank_as_none)]


class _Amounts(Lenient):
    """What every order-like event may say it is worth: spec v2's total, older integrations'
    revenue, and the currency of both."""

    total: Money = None
    revenue: Money = None
    currency: str | None = None


class OrderCompletedProperties(_Amounts):
    order_id: RequiredId
    subtotal: Money = None
    tax: Money = None
    shipping: Money = None
    discount: Money = None
    coupon: str | None = None
    products: Products = Field(default_factory=list)
    email: Any = None
    phone: Any = None


class OrderRefundedProperties(_Amounts):
    """Spec v2 names only order_id; its example adds total, currency and the refunded products."""

    order_id: RequiredId
    refund_id: OptionalId = None
    products: Products = Field(default_factory=list)
    reason: Text = None


class OrderCancelledProperties(_Amounts):
    order_id: RequiredId
    reason: Text = None


class CheckoutStartedProperties(_Amounts):
    """Spec v2 identifies a checkout by order_id here (checkout_id on the later checkout steps)."""

    checkout_id: OptionalId = None
    order_id: OptionalId = None
    cart_id: OptionalId = None
    value: Money = None
    products: Products = Field(default_factory=list)
    recovery_url: Text = None
    checkout_url: Text = None
    email: Any = None
    phone: Any = None


class CartViewedProperties(Lenient):
    cart_id: OptionalId = None
    products: Products = Field(default_factory=list)


class PageProperties(Lenient):
    url: str | None = None
    path: str | None = None
    title: str | None = None
    referrer: str | None = None


def parse(model: type[M], data: Any, at: str = "") -> M:
    """Validate `data`, turning the first pydantic error into a rejection with its field path
    (below `at`). Every entrypoint's models are checked through here."""
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
    if kind.startswith(("datetime", "date_", "timezone_")):  # timezone_: a time without its offset
        return "invalid_timestamp"
    return "invalid_field"


def _message_of(error: Any) -> str:
    return str(error["msg"])

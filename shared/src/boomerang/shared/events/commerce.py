"""What shops tell us happened: the payloads on `commerce.events.v1`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from boomerang.shared.events.envelope import Event

Money = Decimal


class CustomerIdentified(Event):
    event_type = "commerce.customer.identified"

    email: str | None = None
    phone: str | None = Field(default=None, description="E.164")
    first_name: str | None = None
    last_name: str | None = None
    timezone: str | None = None
    locale: str | None = None
    email_marketing_consent: bool | None = None
    sms_marketing_consent: bool | None = None
    traits: dict[str, Any] = Field(default_factory=dict)


class OrderLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: str
    sku: str | None = None
    name: str
    category: str | None = None
    quantity: int = Field(default=1, ge=1)
    unit_price: Money = Field(ge=0)
    url: str | None = None


class OrderPlaced(Event):
    event_type = "commerce.order.placed"

    order_id: str
    placed_at: AwareDatetime
    currency: str = "USD"
    total: Money = Field(ge=0)
    subtotal: Money | None = None
    tax: Money | None = None
    shipping: Money | None = None
    discount: Money | None = None
    coupon: str | None = None
    lines: list[OrderLine] = Field(default_factory=list)
    email: str | None = None
    phone: str | None = None


class ProductViewed(Event):
    event_type = "commerce.product.viewed"

    product_id: str
    name: str | None = None
    category: str | None = None
    price: Money | None = None
    url: str | None = None


class PageViewed(Event):
    event_type = "commerce.page.viewed"

    name: str | None = None
    url: str | None = None
    path: str | None = None
    title: str | None = None
    referrer: str | None = None


class CustomEventTracked(Event):
    """A track call with no commerce meaning (yet): kept, not rejected."""

    event_type = "commerce.custom.tracked"

    name: str
    properties: dict[str, Any] = Field(default_factory=dict)

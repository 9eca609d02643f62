"""What shops tell us happened: the payloads on `commerce.events.v1`."""

from __future__ import annotations

from datetime import date
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
    birthday: date | None = None
    email_marketing_consent: bool | None = None
    email_marketing_consent_source: str | None = Field(
        default=None, description="where the shop collected it: a form, checkout, shopify, an import"
    )
    email_marketing_consent_at: AwareDatetime | None = None
    sms_marketing_consent: bool | None = None
    sms_marketing_consent_source: str | None = None
    sms_marketing_consent_at: AwareDatetime | None = None
    traits: dict[str, Any] = Field(default_factory=dict)


class IdentityLinked(Event):
    """`previous_id` (an `anon:<anonymousId>` or an older userId) is this customer from now on.

    Keyed by the customer it links to. Ingest also re-publishes the previous id's recent events
    under this customer (`source` = "ingest.identity"), so consumers see one history.
    """

    event_type = "commerce.identity.linked"

    previous_id: str
    via: str = Field(description="identify, alias or shopify")


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


class OrderRefunded(Event):
    """Money went back to the customer: a whole order or some of its lines."""

    event_type = "commerce.order.refunded"

    order_id: str
    refund_id: str | None = None
    refunded_at: AwareDatetime
    currency: str = "USD"
    amount: Money = Field(ge=0, description="refunded now, not the running total")
    lines: list[OrderLine] = Field(default_factory=list)
    reason: str | None = None


class OrderCancelled(Event):
    event_type = "commerce.order.cancelled"

    order_id: str
    cancelled_at: AwareDatetime
    currency: str | None = None
    total: Money | None = None
    reason: str | None = None


class CheckoutStarted(Event):
    """A cart went to checkout: the trigger of abandoned-checkout flows."""

    event_type = "commerce.checkout.started"

    checkout_id: str
    started_at: AwareDatetime
    currency: str = "USD"
    total: Money | None = None
    lines: list[OrderLine] = Field(default_factory=list)
    recovery_url: str | None = Field(default=None, description="where the customer can finish it")
    email: str | None = None
    phone: str | None = None


class ProductAddedToCart(Event):
    event_type = "commerce.product.added_to_cart"

    product_id: str
    cart_id: str | None = None
    sku: str | None = None
    name: str | None = None
    category: str | None = None
    price: Money | None = None
    quantity: int = Field(default=1, ge=1)
    url: str | None = None


class CartViewed(Event):
    event_type = "commerce.cart.viewed"

    cart_id: str | None = None
    lines: list[OrderLine] = Field(default_factory=list)


class ScreenViewed(Event):
    """A mobile app's `screen` call: the app's page view."""

    event_type = "commerce.screen.viewed"

    name: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class CustomerGrouped(Event):
    """A `group` call: the customer belongs to an account (a B2B buyer, a household)."""

    event_type = "commerce.customer.grouped"

    group_id: str
    traits: dict[str, Any] = Field(default_factory=dict)

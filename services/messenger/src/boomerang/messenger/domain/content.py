"""What a message is about, and its template context (the "view").

`MessageInputs` is everything a flow's templates can show beyond the customer and the store:
the order (receipt, feedback request), the checkout (abandonment), recommended or featured
products, the product to reorder, guides, an operator's campaign, a milestone, the first
order's date. Each default flow needs some of them (`REQUIRED`); the rest may be empty.
`flow_view` formats them for one customer: amounts and dates in their locale and time zone.
The composer (`service_layer.composing`) adds the store, the customer, the coupon and the links.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import UnknownCurrencyError, format_currency
from pydantic import BaseModel, ConfigDict, Field, field_validator

from boomerang.shared.events import CheckoutStarted, Event, OrderLine, OrderPlaced

# What each default flow cannot be written without. A store's own flow is checked by its
# templates instead (an absent value is None, and using None's fields fails the render).
REQUIRED: dict[str, tuple[str, ...]] = {
    "receipt": ("order",),
    "feedback_request": ("order",),
    "checkout_abandonment": ("checkout",),
    "replenishment": ("product",),
    "vip_milestone": ("milestone",),
    "purchase_anniversary": ("first_order_on",),
    "broadcast": ("campaign",),
}
MAX_PRODUCTS = 3  # two or three recommendations read as advice; more read as a catalogue
MAX_GUIDES = 3
# A guide's link under the store's URL: a path with no scheme (no colon before the first /),
# no host (no leading //) and no blanks.
_RELATIVE = re.compile(r"/?[\w.~%!$&'()*+,;=@-]+(/[\w.~%!$&'()*+,;=:@-]*)*([?#]\S*)?")


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Product(_Input):
    name: str
    url: str
    price: Decimal | None = None
    currency: str | None = None
    image_url: str | None = None
    category: str | None = None


class Guide(_Input):
    """A guide or tutorial of the store's, for customers of `category` (None: for everyone),
    sent in the nurture step named `step` (None: any step). `url` is a full http(s) link or a
    path under the store's URL (`guides/brewing`, see `guides_at`), so a flow file can list
    the same guides for every store it is copied to."""

    title: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    url: str
    category: str | None = None
    step: str | None = None

    @field_validator("title", "summary", "category")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None

    @field_validator("url")
    @classmethod
    def _a_link(cls, value: str) -> str:
        if not _absolute(value) and not _RELATIVE.fullmatch(value):
            raise ValueError("must be an http(s) link or a path under the store's URL, like guides/brewing")
        return value


class Campaign(_Input):
    """An operator's broadcast: plain-text paragraphs (escaped in HTML), one call to action."""

    subject: str = Field(min_length=1, max_length=150)
    heading: str
    paragraphs: list[str] = Field(min_length=1)
    cta_label: str | None = None
    cta_url: str | None = None


class Milestone(_Input):
    orders: int | None = None  # the Nth order just placed
    spent: Decimal | None = None  # the threshold just passed
    currency: str = "USD"


class MessageInputs(_Input):
    order: OrderPlaced | None = None
    checkout: CheckoutStarted | None = None
    delivery_date: date | None = None  # the receipt's, when the shop knows it
    recommendations: list[Product] = Field(default_factory=list)  # receipt: bought together
    products: list[Product] = Field(default_factory=list)  # featured: newer or lesser-known
    product: Product | None = None  # replenishment: the product due again
    last_ordered_on: date | None = None
    categories: list[str] = Field(default_factory=list)  # the customer's, bought or viewed
    guides: list[Guide] = Field(default_factory=list)  # the store's catalogue of guides
    campaign: Campaign | None = None
    milestone: Milestone | None = None
    first_order_on: date | None = None

    @classmethod
    def from_event(cls, event: Event | None) -> MessageInputs:
        if isinstance(event, OrderPlaced):
            return cls(order=event)
        if isinstance(event, CheckoutStarted):
            return cls(checkout=event)
        return cls()

    def missing_for(self, flow: str) -> list[str]:
        return [name for name in REQUIRED.get(flow, ()) if getattr(self, name) in (None, [], "")]


@dataclass(frozen=True)
class Formats:
    """Amounts, dates and times in one customer's locale and time zone."""

    locale: str = "en_US"
    timezone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def money(self, amount: Decimal | None, currency: str) -> str | None:
        if amount is None:
            return None
        return _money(amount, currency.upper(), self.locale)

    def day(self, value: date | datetime | None) -> str | None:
        """`March 15, 2025` / `15. März 2025`."""
        if value is None:
            return None
        if isinstance(value, datetime):
            value = value.astimezone(self.zone).date()
        return _day(value, self.locale)

    def moment(self, value: datetime) -> str:
        # To the second, as it is shown: orders placed in the same second share the formatting.
        return _moment(value.astimezone(UTC).replace(microsecond=0), self.timezone, self.locale)


@lru_cache(maxsize=256)  # babel parses a locale name on every call, a third of formatting a date
def _babel_locale(name: str) -> Locale:
    return Locale.parse(name)


@lru_cache(maxsize=1024)  # every order of a day shows the same day
def _day(value: date, locale: str) -> str:
    return format_date(value, "long", locale=_babel_locale(locale))


@lru_cache(maxsize=1024)
def _moment(value: datetime, timezone: str, locale: str) -> str:
    zone = Formats(locale, timezone).zone
    return format_datetime(value.astimezone(zone), "medium", tzinfo=zone, locale=_babel_locale(locale))


@lru_cache(maxsize=4096)  # prices recur in every receipt; babel takes longer than the cache
def _money(amount: Decimal, currency: str, locale: str) -> str:
    try:
        return format_currency(amount, currency, locale=_babel_locale(locale))
    except (UnknownCurrencyError, ValueError):
        return f"{amount:,.2f} {currency}"


@lru_cache(maxsize=4096)  # the same product links recur in every message of a flow step
def tag_link(url: str, medium: str, campaign: str, content: str, source: str = "boomerang") -> str:
    """`url` with UTM tags so the shop's analytics credit the message; tags already on the
    link (the shop's own) are kept."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {name for name, _ in query}
    tags = {"utm_source": source, "utm_medium": medium, "utm_campaign": campaign, "utm_content": content}
    query += [(name, value) for name, value in tags.items() if name not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c.isspace() for c in url)


def guides_at(guides: Iterable[Guide], store_url: str) -> list[Guide]:
    """The guides with their paths (`guides/brewing`) made links under the store's URL."""
    base = store_url.rstrip("/")
    return [
        guide if _absolute(guide.url) else guide.model_copy(update={"url": f"{base}/{guide.url.lstrip('/')}"})
        for guide in guides
    ]


def by_category(inputs: MessageInputs, categories: list[str], guides: Iterable[Guide], store_url: str) -> MessageInputs:
    """A `content: by_category` step's inputs: the customer's categories (bought or viewed) and
    the flow's guides; `flow_view` picks those of their categories, then general ones."""
    return inputs.model_copy(update={"categories": list(categories), "guides": guides_at(guides, store_url)})


def pick_guides(guides: list[Guide], categories: list[str], step: str, limit: int = MAX_GUIDES) -> list[Guide]:
    """Guides for this step, those of the customer's categories first (in the order of their
    categories), then general ones; none of another category."""
    for_step = [g for g in guides if g.step in (None, step)]
    wanted = [c.strip().casefold() for c in categories]
    matching = sorted(
        (g for g in for_step if g.category and g.category.casefold() in wanted),
        key=lambda g: wanted.index(g.category.casefold()),  # type: ignore[union-attr]
    )
    general = [g for g in for_step if g.category is None]
    return (matching + general)[:limit]


def order_view(order: OrderPlaced, fmt: Formats) -> dict[str, Any]:
    def optional(amount: Decimal | None) -> str | None:
        # A receipt lists no "Tax: $0.00" or "Discount: -$0.00" rows.
        return fmt.money(amount, order.currency) if amount else None

    return {
        "id": order.order_id,
        "placed_at": fmt.moment(order.placed_at),
        "placed_on": fmt.day(order.placed_at),
        "lines": [_line_view(line, order.currency, fmt) for line in order.lines],
        "item_count": sum(line.quantity for line in order.lines),
        "subtotal": optional(order.subtotal),
        "shipping": optional(order.shipping),
        "tax": optional(order.tax),
        "discount": optional(order.discount),
        "coupon": order.coupon,
        "total": fmt.money(order.total, order.currency),
    }


def _line_view(line: OrderLine, currency: str, fmt: Formats) -> dict[str, Any]:
    return {
        "name": line.name,
        "quantity": line.quantity,
        "unit_price": fmt.money(line.unit_price, currency) or "",
        "total": fmt.money(line.unit_price * line.quantity, currency) or "",
        "url": line.url,
        "category": line.category,
    }


def checkout_view(checkout: CheckoutStarted, fmt: Formats) -> dict[str, Any]:
    return {
        "id": checkout.checkout_id,
        "lines": [_line_view(line, checkout.currency, fmt) for line in checkout.lines],
        "item_count": sum(line.quantity for line in checkout.lines),
        "total": fmt.money(checkout.total, checkout.currency),
        "url": checkout.recovery_url,
    }


def product_view(product: Product, fmt: Formats, default_currency: str = "USD") -> dict[str, Any]:
    return {
        "name": product.name,
        "url": product.url,
        "price": fmt.money(product.price, product.currency or default_currency),
        "image_url": product.image_url,
        "category": product.category,
    }


def flow_view(inputs: MessageInputs, fmt: Formats, step: str, now: datetime) -> dict[str, Any]:
    """The flow's part of the template context: every key is always there (None or empty when
    not given), so templates test values, never whether a name exists."""
    currency = (inputs.order.currency if inputs.order else None) or "USD"
    milestone = inputs.milestone
    return {
        "order": order_view(inputs.order, fmt) if inputs.order else None,
        "delivery_date": fmt.day(inputs.delivery_date),
        "checkout": checkout_view(inputs.checkout, fmt) if inputs.checkout else None,
        "recommendations": [product_view(p, fmt, currency) for p in inputs.recommendations[:MAX_PRODUCTS]],
        "products": [product_view(p, fmt, currency) for p in inputs.products[:MAX_PRODUCTS]],
        "product": product_view(inputs.product, fmt, currency) if inputs.product else None,
        "last_ordered_on": fmt.day(inputs.last_ordered_on),
        "categories": list(inputs.categories),
        "guides": [g.model_dump() for g in pick_guides(inputs.guides, inputs.categories, step)],
        "campaign": inputs.campaign.model_dump() if inputs.campaign else None,
        "milestone": {
            "orders": milestone.orders,
            "spent": fmt.money(milestone.spent, milestone.currency),
        }
        if milestone
        else None,
        "anniversary": _anniversary(inputs.first_order_on, fmt, now),
    }


def _anniversary(first_order_on: date | None, fmt: Formats, now: datetime) -> dict[str, Any] | None:
    if first_order_on is None:
        return None
    years = now.astimezone(fmt.zone).year - first_order_on.year
    return {"years": max(years, 1), "first_order_on": fmt.day(first_order_on)}

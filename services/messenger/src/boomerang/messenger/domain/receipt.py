"""What a receipt shows: order lines, totals and dates, formatted for the customer's locale."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.content import Formats, MessageInputs, Product, flow_view
from boomerang.shared.events import OrderPlaced

DEFAULT_LOCALE = "en_US"
DEFAULT_TIMEZONE = "UTC"


def money(amount: Decimal, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """`$1,234.50`, `1.234,50 €`: the locale decides the symbol's place and the separators."""
    return Formats(locale).money(amount, currency) or ""


def receipt_view(
    order: OrderPlaced, contact: Contact | None, recommendations: Sequence[Product] = ()
) -> dict[str, Any]:
    """The flow's template context of every receipt part (email HTML and text, SMS), with the
    products recommended with this order (`domain.recommendations`), if any."""
    fmt = Formats(
        (contact.locale if contact else None) or DEFAULT_LOCALE,
        (contact.timezone if contact else None) or DEFAULT_TIMEZONE,
    )
    inputs = MessageInputs(order=order, recommendations=list(recommendations))
    return flow_view(inputs, fmt, step="email", now=order.placed_at)

"""What a receipt shows: order lines, totals and dates, formatted for the customer's locale."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import UnknownCurrencyError, format_currency

from boomerang.messenger.domain.contacts import Contact
from boomerang.shared.events import OrderPlaced

DEFAULT_LOCALE = "en_US"
DEFAULT_TIMEZONE = "UTC"


def money(amount: Decimal, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """`$1,234.50`, `1.234,50 €`: the locale decides the symbol's place and the separators."""
    try:
        return format_currency(amount, currency.upper(), locale=locale)
    except (UnknownCurrencyError, ValueError):
        return f"{amount:,.2f} {currency.upper()}"


@dataclass(frozen=True)
class ReceiptLine:
    name: str
    quantity: int
    unit_price: str
    total: str
    url: str | None


def receipt_view(order: OrderPlaced, contact: Contact | None) -> dict[str, Any]:
    """The template context of every receipt part (email HTML and text, SMS)."""
    locale = (contact.locale if contact else None) or DEFAULT_LOCALE
    zone = ZoneInfo((contact.timezone if contact else None) or DEFAULT_TIMEZONE)

    def fmt(amount: Decimal | None) -> str | None:
        return None if amount is None else money(amount, order.currency, locale)

    def optional(amount: Decimal | None) -> str | None:
        # A receipt lists no "Tax: $0.00" or "Discount: -$0.00" rows.
        return fmt(amount) if amount else None

    lines = [
        ReceiptLine(
            name=line.name,
            quantity=line.quantity,
            unit_price=fmt(line.unit_price) or "",
            total=fmt(line.unit_price * line.quantity) or "",
            url=line.url,
        )
        for line in order.lines
    ]
    return {
        "customer": {"first_name": contact.first_name if contact else None},
        "order": {
            "id": order.order_id,
            "placed_at": _local_time(order.placed_at, zone, locale),
            "lines": lines,
            "item_count": sum(line.quantity for line in order.lines),
            "subtotal": optional(order.subtotal),
            "shipping": optional(order.shipping),
            "tax": optional(order.tax),
            "discount": optional(order.discount),
            "coupon": order.coupon,
            "total": fmt(order.total),
        },
    }


def _local_time(moment: datetime, zone: ZoneInfo, locale: str) -> str:
    return format_datetime(moment.astimezone(zone), "medium", tzinfo=zone, locale=locale)

"""Replenishment: when a product a customer buys again and again is due by their own rhythm.

Their interval for a product is the median gap between their purchases of it (the median, so
one long holiday does not move it). Purchases less than a day apart are one purchase (a second
order to add something forgotten is no new cycle). The reminder is due `remind_before` the
product runs out, but never in the first half of the interval: someone who reorders every four
days is not reminded the day after buying.

The trigger instance is the product and the order that made it due ("beans@o-17"): a new order
of the product starts a new instance, a redelivered one finds the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

SAME_PURCHASE = timedelta(days=1)


@dataclass(frozen=True)
class Purchase:
    order_id: str
    placed_at: datetime


def purchase_moments(purchases: Iterable[Purchase]) -> list[datetime]:
    """Distinct purchases in time order; one less than a day after the previous is the same one."""
    moments: list[datetime] = []
    for moment in sorted(p.placed_at for p in purchases):
        if not moments or moment - moments[-1] >= SAME_PURCHASE:
            moments.append(moment)
    return moments


def own_interval(moments: Sequence[datetime]) -> timedelta | None:
    """The median gap between consecutive purchases; None with fewer than two."""
    if len(moments) < 2:
        return None
    gaps = [(b - a).total_seconds() for a, b in zip(moments, moments[1:], strict=False)]
    return timedelta(seconds=median(gaps))


def reminder_due(
    purchases: Iterable[Purchase], min_purchases: int, remind_before: timedelta
) -> datetime | None:
    """When to remind: the last purchase plus the interval, less the lead; None if the product
    was bought fewer than `min_purchases` times (distinct purchases)."""
    moments = purchase_moments(purchases)
    interval = own_interval(moments)
    if interval is None or len(moments) < min_purchases:
        return None
    lead = min(remind_before, interval / 2)
    return moments[-1] + interval - lead


def instance_for(product_id: str, order_id: str) -> str:
    return f"{product_id}@{order_id}"


def written_by(instance: str, order_id: str) -> bool:
    """Whether the reminder `instance` was made due by the order `order_id` (so that order's
    redelivery must not cancel it as a new purchase would)."""
    return instance.endswith(f"@{order_id}")


def is_latest(purchases: Iterable[Purchase], order_id: str) -> bool:
    """Whether `order_id` is the customer's latest purchase of the product: only that one
    schedules a reminder (a late replay of an older order does not)."""
    ranked = sorted(purchases, key=lambda p: (p.placed_at, p.order_id))
    return bool(ranked) and ranked[-1].order_id == order_id

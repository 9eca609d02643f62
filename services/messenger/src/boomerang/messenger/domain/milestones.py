"""VIP milestones: the order that takes a customer to their Nth order or past a spend threshold.

Worked out from the messenger's own record of the customer's orders (one row per order id, net
of the refunds it knows of), in the order they were placed: the orders before this one are the
"before", this one added the "after". So a redelivered order finds the same milestones, and the
trigger instance is the milestone itself ("orders:10", "net_revenue:500"): each fires once ever,
whatever order and whatever replay crosses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from boomerang.messenger.domain.content import Milestone
from boomerang.messenger.domain.flow_definitions import MilestoneTrigger

ORDERS = "orders"
NET_REVENUE = "net_revenue"


@dataclass(frozen=True)
class OrderFact:
    order_id: str
    placed_at: datetime
    net: Decimal  # total less what was refunded of it
    currency: str = "USD"


def _amount(value: Decimal) -> str:
    """500 as "500", 499.5 as "499.5": one spelling per threshold, so one key."""
    text = format(value.normalize(), "f")
    return text


def instance_for(kind: str, value: int | Decimal) -> str:
    return f"{kind}:{value if kind == ORDERS else _amount(Decimal(value))}"


def milestones_crossed(trigger: MilestoneTrigger, orders: Sequence[OrderFact], order_id: str) -> list[str]:
    """The milestones (as trigger instances) the order `order_id` crosses; [] if it is unknown."""
    ranked = sorted(orders, key=lambda o: (o.placed_at, o.order_id))
    at = next((i for i, o in enumerate(ranked) if o.order_id == order_id), None)
    if at is None:
        return []
    before = ranked[:at]
    count_before, count_after = len(before), len(before) + 1
    spent_before = sum((o.net for o in before), Decimal(0))
    spent_after = spent_before + ranked[at].net
    crossed = [instance_for(ORDERS, n) for n in trigger.orders if count_before < n <= count_after]
    crossed += [
        instance_for(NET_REVENUE, amount)
        for amount in trigger.net_revenue
        if spent_before < amount <= spent_after
    ]
    return crossed


def milestone_of(instance: str, currency: str = "USD") -> Milestone | None:
    """What the message shows for a milestone instance; None if it names none."""
    kind, _, value = instance.partition(":")
    try:
        if kind == ORDERS:
            return Milestone(orders=int(value), currency=currency)
        if kind == NET_REVENUE:
            return Milestone(spent=Decimal(value), currency=currency)
    except (ValueError, ArithmeticError):
        return None
    return None

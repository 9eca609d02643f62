"""Whether a customer is in a flow's audience, from what the messenger knows about them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from boomerang.messenger.domain.flow_definitions import Audience, FlowDefinition

NOT_IN_AUDIENCE = "not_in_audience"
EXITED = "exited"  # a flow's exit condition happened before its delayed step went out


@dataclass(frozen=True)
class CustomerFacts:
    segments: frozenset[str] = frozenset()  # current segments, every dimension
    orders: int = 0
    net_revenue: Decimal = Decimal(0)
    categories: frozenset[str] = frozenset()  # bought or viewed


def audience_miss(audience: Audience, facts: CustomerFacts) -> str | None:
    """The first condition the customer fails, in words; None when they are in the audience."""
    if audience.segments_any and not facts.segments & set(audience.segments_any):
        return f"in none of {', '.join(audience.segments_any)}"
    if hit := sorted(facts.segments & set(audience.segments_none)):
        return f"in {', '.join(hit)}"
    if audience.min_orders is not None and facts.orders < audience.min_orders:
        return f"{facts.orders} orders, fewer than {audience.min_orders}"
    if audience.max_orders is not None and facts.orders > audience.max_orders:
        return f"{facts.orders} orders, more than {audience.max_orders}"
    if audience.min_net_revenue is not None and facts.net_revenue < audience.min_net_revenue:
        return f"spent {facts.net_revenue}, less than {audience.min_net_revenue}"
    if audience.categories_any and not facts.categories & set(audience.categories_any):
        return f"no interest in {', '.join(audience.categories_any)}"
    return None


def exit_event(flow: FlowDefinition, event_types: set[str] | frozenset[str]) -> str | None:
    """The exit event among those seen since the flow started, if any: no further step is sent."""
    return next((event for event in flow.exit.events if event in event_types), None)

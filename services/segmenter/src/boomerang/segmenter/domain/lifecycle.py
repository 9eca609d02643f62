"""How one event changes a customer's state, and which segment transitions that causes.

`apply` is pure: the clock is passed in, nothing is read or written. Rules look at the
state after the event and say whether the customer enters a segment; each rule fires
only when the customer is not in that segment yet, so a transition is emitted once.

The facts themselves are kept by `facts.observe`. These two rules (new on the first order,
vip at a net revenue threshold) are what the worker runs today; the per-store lifecycle
policy (`policy`, decided by `stages.advance`) replaces them when it is wired in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from boomerang.segmenter.domain.facts import observe, occurred_at
from boomerang.segmenter.domain.model import (
    CustomerState,
    Dimension,
    Segment,
    SegmentPolicy,
    SegmentTransition,
)
from boomerang.shared.events import Envelope


@dataclass(frozen=True)
class Trigger:
    """The event that caused a transition: its id makes the published change's id."""

    event_id: str
    occurred_at: datetime


Rule = Callable[[CustomerState, Trigger, SegmentPolicy], SegmentTransition | None]


def apply(
    state: CustomerState, envelope: Envelope, now: datetime, policy: SegmentPolicy
) -> tuple[CustomerState, list[SegmentTransition]]:
    """The state after `envelope`, and the transitions it caused (oldest rule first).

    A redelivered envelope (its id among the last `policy.remembered_event_ids`) returns
    the same state object and no transitions. Raises ValueError (pydantic's
    ValidationError, UnknownEventType) when the envelope's data fits no known event.
    """
    if state.has_processed(envelope.id):
        return state, []
    event = envelope.event()
    trigger = Trigger(envelope.id, occurred_at(envelope, event))
    observed = replace(
        observe(state, event, trigger.occurred_at, remembered_orders=policy.remembered_order_ids),
        recent_event_ids=(*state.recent_event_ids, envelope.id)[-policy.remembered_event_ids :],
        updated_at=now,
    )
    transitions: list[SegmentTransition] = []
    for rule in RULES:
        if transition := rule(observed, trigger, policy):
            observed = observed.entering(transition)
            transitions.append(transition)
    return observed, transitions


def first_order_makes_new(state: CustomerState, trigger: Trigger, _: SegmentPolicy) -> SegmentTransition | None:
    if state.orders < 1 or state.segment_in(Dimension.LIFECYCLE) is not None:
        return None
    return _transition(state, trigger, Dimension.LIFECYCLE, Segment.NEW, "first_order")


def revenue_makes_vip(state: CustomerState, trigger: Trigger, policy: SegmentPolicy) -> SegmentTransition | None:
    if state.net_revenue < policy.vip_revenue_threshold or state.segment_in(Dimension.VALUE) == Segment.VIP:
        return None
    return _transition(state, trigger, Dimension.VALUE, Segment.VIP, "net_revenue_reached_threshold")


RULES: tuple[Rule, ...] = (first_order_makes_new, revenue_makes_vip)


def _transition(
    state: CustomerState, trigger: Trigger, dimension: str, to_segment: str, reason: str
) -> SegmentTransition:
    return SegmentTransition(
        dimension=dimension,
        from_segment=state.segment_in(dimension),
        to_segment=to_segment,
        reason=reason,
        changed_at=trigger.occurred_at,
        orders=state.orders,
        revenue=state.net_revenue,
        trigger_event_id=trigger.event_id,
    )

"""What the segmenter concludes: payloads on `customer.segments.v1`."""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime

from boomerang.shared.events.envelope import Event


class SegmentChanged(Event):
    event_type = "customer.segment.changed"

    from_segment: str | None
    to_segment: str
    reason: str
    changed_at: AwareDatetime
    orders: int
    revenue: Decimal
    # Added with the lifecycle policy; optional so envelopes written before still validate.
    dimension: str | None = None  # "lifecycle" (prospect ... reactivated) or "value" (vip, regular)
    detail: str | None = None  # the numbers behind `reason`, one sentence


class CustomerScored(Event):
    """A customer's scores, on the compacted `customer.scores.v1` (the latest per key is kept).

    Written by the segmenter whenever it re-scores a customer (on their events and on the
    sweep) once a scoring model exists for their store. `model_id` names the fitted model;
    `scored_at` is the business time the scores are for.
    """

    event_type = "customer.scored"

    model_id: str
    scored_at: AwareDatetime
    orders: int
    net_revenue: Decimal
    recency_score: int
    frequency_score: int
    monetary_score: int
    historic_clv: float
    p_alive: float
    expected_orders_90d: float
    expected_orders_365d: float
    expected_spend: float
    predicted_clv_365d: float
    clv_percentile: float
    lapse_score: float  # churn risk: P(no order in the next lapse_horizon_days)
    lapse_horizon_days: float
    next_order_at: AwareDatetime | None = None

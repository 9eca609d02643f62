"""What the query API shows of a customer and of a store: plain data built from the worker's state.

Pure: `customer_snapshot` turns a `CustomerState` (and the scores last published for it) into the
row the snapshot store keeps; `movement` and `distribution` summarise rows the caller read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from boomerang.segmenter.domain.model import CustomerState, Dimension, Segment

TOP_CATEGORIES = 5
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)


@dataclass(frozen=True)
class CustomerSnapshot:
    """A customer's latest profile, segments and scores, as the worker last saved them."""

    store_id: str
    customer_id: str
    lifecycle: str | None
    value_tier: str
    profile: Mapping[str, Any]
    scores: Mapping[str, Any] | None
    evaluated_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class TransitionRecord:
    """One published SegmentChanged; `id` is its envelope id (the same on every re-emission)."""

    id: str
    store_id: str
    customer_id: str
    dimension: str
    from_segment: str | None
    to_segment: str
    reason: str
    detail: str | None
    changed_at: datetime


def customer_snapshot(state: CustomerState, scores: Mapping[str, Any] | None, at: datetime) -> CustomerSnapshot:
    """`scores`: the CustomerScored data (JSON-ready) published with this state, None without a model."""
    aov = state.average_order_value
    top = sorted(state.categories.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CATEGORIES]
    profile = {
        "orders": state.orders,
        "net_revenue": str(state.net_revenue),
        "average_order_value": None if aov is None else str(round(aov, 2)),
        "first_order_at": _iso(state.first_order_at),
        "last_order_at": _iso(state.last_order_at),
        "last_seen_at": _iso(state.last_seen_at),
        "last_visit_at": _iso(state.last_visit_at),
        "last_engaged_at": _iso(state.last_engaged_at),
        "median_days_between_orders": _days(state),
        "top_categories": dict(top),
        "coupons_redeemed": sum(state.coupons.values()),
    }
    return CustomerSnapshot(
        store_id=state.store_id,
        customer_id=state.customer_id,
        lifecycle=state.segment_in(Dimension.LIFECYCLE),
        value_tier=state.segment_in(Dimension.VALUE) or Segment.REGULAR,
        profile=profile,
        scores=scores,
        evaluated_at=state.evaluated_at,
        updated_at=at,
    )


@dataclass
class Movement:
    """Transitions into and out of each segment within a window."""

    entered: Counter[str] = field(default_factory=Counter)
    left: Counter[str] = field(default_factory=Counter)

    def add(self, from_segment: str | None, to_segment: str) -> None:
        self.entered[to_segment] += 1
        if from_segment is not None:
            self.left[from_segment] += 1

    def as_dict(self) -> dict[str, dict[str, int]]:
        names = sorted(set(self.entered) | set(self.left))
        return {n: {"entered": self.entered[n], "left": self.left[n], "net": self.entered[n] - self.left[n]} for n in names}


def movement(pairs: Iterable[tuple[str | None, str]]) -> Movement:
    moved = Movement()
    for from_segment, to_segment in pairs:
        moved.add(from_segment, to_segment)
    return moved


def distribution(values: Sequence[float], bins: int = 10) -> dict[str, Any]:
    """Count, mean, quantiles and an equal-width histogram of the values (None/NaN dropped)."""
    data = np.array([v for v in values if v is not None], dtype=float)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return {"count": 0, "mean": None, "min": None, "max": None, "quantiles": {}, "histogram": []}
    counts, edges = np.histogram(data, bins=bins)
    return {
        "count": int(data.size),
        "mean": float(data.mean()),
        "min": float(data.min()),
        "max": float(data.max()),
        "quantiles": {f"p{round(q * 100)}": float(np.quantile(data, q)) for q in QUANTILES},
        "histogram": [
            {"from": float(lo), "to": float(hi), "count": int(n)} for lo, hi, n in zip(edges[:-1], edges[1:], counts)
        ],
    }


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(timezone.utc).isoformat()


def _days(state: CustomerState) -> float | None:
    gap = state.median_purchase_interval
    return None if gap is None else round(gap.total_seconds() / 86400, 2)

"""What the segmenter knows about a customer, and the segments it can put them in.

Plain data only: the faust table stores it (see adapters.state_codec), the rules in
`lifecycle` derive new states from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal


class Dimension:
    """Segments come in dimensions; a customer is in at most one segment per dimension.

    Lifecycle stages (new, later active, at risk, lapsed, won back) exclude each other;
    the value tier (vip) is independent of the stage.
    """

    LIFECYCLE = "lifecycle"
    VALUE = "value"


class Segment:
    NEW = "new"
    VIP = "vip"


@dataclass(frozen=True)
class SegmentPolicy:
    vip_revenue_threshold: Decimal = Decimal(500)
    remembered_event_ids: int = 100
    remembered_order_ids: int = 1000


@dataclass(frozen=True)
class CustomerState:
    store_id: str
    customer_id: str
    orders: int = 0
    net_revenue: Decimal = Decimal(0)
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    last_seen_at: datetime | None = None
    segments: Mapping[str, str] = field(default_factory=dict)
    recent_event_ids: tuple[str, ...] = ()
    counted_order_ids: tuple[str, ...] = ()
    updated_at: datetime | None = None

    def segment_in(self, dimension: str) -> str | None:
        return self.segments.get(dimension)

    def has_processed(self, event_id: str) -> bool:
        return event_id in self.recent_event_ids

    def entering(self, transition: SegmentTransition) -> CustomerState:
        return replace(self, segments={**self.segments, transition.dimension: transition.to_segment})


@dataclass(frozen=True)
class SegmentTransition:
    """A customer moved into `to_segment`; published as SegmentChanged."""

    dimension: str
    from_segment: str | None
    to_segment: str
    reason: str
    changed_at: datetime
    orders: int
    revenue: Decimal
    trigger_event_id: str

"""What the segmenter knows about a customer, and the segments it can put them in.

Plain data only: the faust table stores it (see adapters.state_codec), `facts.observe` keeps
the facts up to date from events, and the rules in `lifecycle` (today) and `stages` (the
per-store lifecycle policy) derive segments from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal


class Dimension:
    """Segments come in dimensions; a customer is in at most one segment per dimension.

    Lifecycle stages (prospect, new, active, neutral, at risk, lapsed, reactivated) exclude
    each other; the value tier (vip or regular) is independent of the stage, so a VIP who
    stops buying is both `vip` and `at_risk`.
    """

    LIFECYCLE = "lifecycle"
    VALUE = "value"


class Segment:
    # lifecycle stages
    PROSPECT = "prospect"
    NEW = "new"
    ACTIVE = "active"
    NEUTRAL = "neutral"
    AT_RISK = "at_risk"
    LAPSED = "lapsed"
    REACTIVATED = "reactivated"
    # value tiers; a customer never in the value dimension is regular
    VIP = "vip"
    REGULAR = "regular"


LIFECYCLE_STAGES = (
    Segment.PROSPECT,
    Segment.NEW,
    Segment.ACTIVE,
    Segment.NEUTRAL,
    Segment.AT_RISK,
    Segment.LAPSED,
    Segment.REACTIVATED,
)
VALUE_TIERS = (Segment.VIP, Segment.REGULAR)


@dataclass(frozen=True)
class SegmentPolicy:
    remembered_event_ids: int = 100
    remembered_order_ids: int = 1000


@dataclass(frozen=True)
class LineItem:
    """What an order held, as far as affinity needs it."""

    product_id: str
    category: str | None = None
    quantity: int = 1


@dataclass(frozen=True)
class OrderRecord:
    """One order as the segmenter counts it, keyed by the shop's order id.

    `placed_at` is None while only a refund or a cancellation of the order has been seen (an
    order placed before the shop's history reached Boomerang, or one whose events came out of
    order): such a placeholder counts for nothing, and if the order does arrive it arrives
    already refunded or cancelled. `refunded` is the sum of the refunds seen (`refund_keys`
    make each count once); an order never counts for less than nothing.
    """

    order_id: str
    placed_at: datetime | None = None
    total: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    refund_keys: tuple[str, ...] = ()
    cancelled: bool = False
    coupon: str | None = None
    lines: tuple[LineItem, ...] = ()

    @property
    def counted(self) -> bool:
        """A purchase: placed and not cancelled (a refunded order is still one)."""
        return self.placed_at is not None and not self.cancelled

    @property
    def net(self) -> Decimal:
        """What this order is worth now: its total less refunds, never below 0; 0 if not counted."""
        return max(self.total - self.refunded, Decimal(0)) if self.counted else Decimal(0)


@dataclass(frozen=True)
class CustomerState:
    """One customer's facts and segments.

    Money is summed as sent (one currency per store is assumed). `orders`, `net_revenue`,
    `first_order_at`, `products`, `categories` and `coupons` are running totals over every
    order ever counted; `order_records` keeps the last `SegmentPolicy.remembered_order_ids`
    orders (the oldest are forgotten first, `forgotten_orders` counts them), which is what
    makes a re-sent order, refund or cancellation count once and what purchase intervals are
    measured on.
    """

    store_id: str
    customer_id: str
    orders: int = 0
    net_revenue: Decimal = Decimal(0)
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    last_seen_at: datetime | None = None
    last_visit_at: datetime | None = None
    last_engaged_at: datetime | None = None
    order_records: tuple[OrderRecord, ...] = ()
    forgotten_orders: int = 0
    products: Mapping[str, int] = field(default_factory=dict)
    categories: Mapping[str, int] = field(default_factory=dict)
    coupons: Mapping[str, int] = field(default_factory=dict)
    segments: Mapping[str, str] = field(default_factory=dict)
    evaluated_at: datetime | None = None
    recent_event_ids: tuple[str, ...] = ()
    updated_at: datetime | None = None

    def segment_in(self, dimension: str) -> str | None:
        return self.segments.get(dimension)

    def has_processed(self, event_id: str) -> bool:
        return event_id in self.recent_event_ids

    def entering(self, transition: SegmentTransition) -> CustomerState:
        return self.with_segment(transition.dimension, transition.to_segment)

    def with_segment(self, dimension: str, segment: str) -> CustomerState:
        return evolve(self, segments={**self.segments, dimension: segment})

    def record(self, order_id: str) -> OrderRecord | None:
        return next((r for r in self.order_records if r.order_id == order_id), None)

    @property
    def average_order_value(self) -> Decimal | None:
        """Net revenue per order; None before the first order."""
        return self.net_revenue / self.orders if self.orders > 0 else None

    @property
    def purchase_times(self) -> tuple[datetime, ...]:
        """When the customer bought, oldest first, same-day orders (UTC dates) merged into the
        day's last order, as the scoring models merge them."""
        by_day: dict[date, datetime] = {}
        for record in self.order_records:
            if record.counted:
                assert record.placed_at is not None
                day = _utc_date(record.placed_at)
                if day not in by_day or record.placed_at > by_day[day]:
                    by_day[day] = record.placed_at
        return tuple(sorted(by_day.values()))

    @property
    def purchase_intervals(self) -> tuple[timedelta, ...]:
        """The gaps between consecutive `purchase_times`; empty for a one-time buyer."""
        times = self.purchase_times
        return tuple(b - a for a, b in zip(times, times[1:]))

    @property
    def median_purchase_interval(self) -> timedelta | None:
        return median_interval(self.purchase_intervals)


_STATE_FIELDS = frozenset(f.name for f in fields(CustomerState))


def evolve(state: CustomerState, **changes: object) -> CustomerState:
    """`dataclasses.replace` for the state, about five times faster: a state is copied several
    times per event (each fact, each segment, the evaluation time) and replace's generic path
    (every field through getattr and __init__) was a tenth of the worker's time. The state has
    no __post_init__ and no validation in __init__, so copying its fields is all replace does."""
    unknown = changes.keys() - _STATE_FIELDS
    if unknown:
        raise TypeError(f"CustomerState has no field {sorted(unknown)}")
    new = object.__new__(CustomerState)
    new.__dict__.update(state.__dict__)
    new.__dict__.update(changes)
    return new


def median_interval(intervals: tuple[timedelta, ...] | list[timedelta]) -> timedelta | None:
    """The median gap (the mean of the middle two for an even count); None without any."""
    if not intervals:
        return None
    ordered = sorted(intervals)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _utc_date(at: datetime) -> date:
    return at.astimezone(timezone.utc).date() if at.tzinfo is not None else at.date()


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
    trigger_event_id: str  # empty: time alone made the change (nothing triggered it)
    detail: str | None = None

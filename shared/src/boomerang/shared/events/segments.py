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

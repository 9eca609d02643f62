"""Summaries over many customers' states (pure; the caller decides which states)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from boomerang.segmenter.domain.model import CustomerState


@dataclass
class SegmentSizes:
    customers: int = 0
    segments: Counter[str] = field(default_factory=Counter)

    def add(self, state: CustomerState) -> None:
        self.customers += 1
        self.segments.update(state.segments.values())


def segment_sizes(states: Iterable[CustomerState]) -> SegmentSizes:
    sizes = SegmentSizes()
    for state in states:
        sizes.add(state)
    return sizes

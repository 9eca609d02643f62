"""What the segmentation use case needs from the outside world; adapters implement these, tests fake them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from boomerang.segmenter.domain import CustomerState
from boomerang.shared.events import Envelope


@dataclass(frozen=True)
class SourceRecord:
    """A message as it came off `commerce.events.v1`, before anything was parsed."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class CustomerStates(Protocol):
    """Per-customer state, keyed like the source topic (`store:customer`)."""

    def get(self, key: str) -> CustomerState | None: ...

    def put(self, key: str, state: CustomerState) -> None: ...


class DueTimes(Protocol):
    """When each customer next changes segment with no event (the sweep's index)."""

    def put(self, key: str, due_at: datetime | None) -> None: ...


class SegmentEvents(Protocol):
    async def publish(self, envelopes: list[Envelope]) -> None:
        """Return only once Kafka acknowledged every envelope; raise otherwise."""

    async def publish_scores(self, envelopes: list[Envelope]) -> None:
        """The same, to `customer.scores.v1`."""

    async def dead_letter(self, record: SourceRecord, reason: str, error: str) -> None:
        """Park the record, unchanged, with the error; return once acknowledged."""

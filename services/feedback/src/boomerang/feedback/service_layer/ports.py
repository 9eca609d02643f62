"""What the handlers need from the outside world."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from boomerang.feedback.domain.model import ProviderEvent, StoredEvent
from boomerang.feedback.domain.sms import Recipient
from boomerang.shared.events import Envelope


@dataclass(frozen=True)
class Backlog:
    unpublished: int
    oldest_received_at: datetime | None


class ProviderEventStore(Protocol):
    def add_new(self, events: Sequence[ProviderEvent]) -> list[StoredEvent]:
        """Store the events not stored before (by provider and provider_event_id); return those."""

    def unpublished(self, limit: int, among: Collection[int] | None = None) -> list[StoredEvent]:
        """Stored events not yet published, oldest first; only those with ids in `among` if given."""

    def mark_published(self, ids: Collection[int], at: datetime) -> None: ...

    def backlog(self) -> Backlog: ...

    def find(self, provider: str, provider_event_id: str) -> StoredEvent | None: ...

    def remember_recipient(self, number_pair: str, recipient: Recipient, seen_at: datetime) -> None:
        """Who we texted at a (customer number, our number) pair, unless we know of a later one."""

    def recipient(self, number_pair: str) -> Recipient | None: ...


class EventBus(Protocol):
    """Kafka as the relay sees it; every failure is raised as PublishFailed."""

    @property
    def connected(self) -> bool: ...

    async def connect(self) -> None: ...

    async def publish(self, envelopes: Sequence[Envelope]) -> None: ...

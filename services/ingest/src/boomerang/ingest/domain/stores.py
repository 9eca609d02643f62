"""A store (one shop) and the write keys that let it send events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Store:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class WriteKey:
    """A key as stored: its hash and a short prefix; the key itself is shown once, at creation."""

    id: str
    store_id: str
    key_hash: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

"""A store (one shop) and the write keys that let it send events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Store:
    id: str
    name: str
    created_at: datetime
    # The app's client secret Shopify signs webhooks with (X-Shopify-Hmac-SHA256). Kept in clear:
    # verifying an HMAC needs the secret itself, unlike a write key, which only needs its hash.
    shopify_secret: str | None = None
    # Events per second this store may send; None means the service's default.
    rate_limit_per_s: float | None = None


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

"""Per-store rate limits as token buckets: pure arithmetic, the time is passed in.

A bucket holds up to `burst` tokens and refills at `per_s` tokens a second; an event costs
one token, so a batch of N costs N. A request larger than the whole bucket is let through
once the bucket is full and leaves it in debt, so the long-run rate still holds and no
request is refused forever.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    per_s: float
    burst: float

    def __post_init__(self) -> None:
        if self.per_s <= 0 or self.burst <= 0:
            raise ValueError(f"a rate limit needs a positive rate and burst, got {self}")


@dataclass(frozen=True)
class Bucket:
    tokens: float
    at: float  # seconds on a monotonic clock, when `tokens` was counted


def limit_for(store_per_s: float | None, *, default_per_s: float, burst: float) -> Limit:
    """A store's own rate if it has a usable one, else the default; the bucket holds at least
    `burst` events (so a full batch fits) and at least one second's worth."""
    per_s = store_per_s if store_per_s is not None and store_per_s > 0 else default_per_s
    return Limit(per_s=per_s, burst=max(burst, per_s))


def full(limit: Limit, now: float) -> Bucket:
    return Bucket(tokens=limit.burst, at=now)


def take(bucket: Bucket, limit: Limit, cost: int, now: float) -> tuple[Bucket, float]:
    """Spend `cost` tokens if the bucket allows it now.

    Returns the bucket afterwards and 0.0, or, when refused, the bucket unchanged but for its
    refill and the seconds until it would allow the same request.
    """
    tokens = min(limit.burst, bucket.tokens + max(0.0, now - bucket.at) * limit.per_s)
    needed = min(cost, limit.burst)
    if tokens >= needed:
        return Bucket(tokens - cost, now), 0.0
    return Bucket(tokens, now), (needed - tokens) / limit.per_s


def retry_after_s(wait_s: float) -> int:
    """Whole seconds for Retry-After: rounded up, never 0 (0 would invite an immediate retry)."""
    return max(1, math.ceil(wait_s))

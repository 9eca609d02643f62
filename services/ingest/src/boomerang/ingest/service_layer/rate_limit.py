"""Per-store rate limiting: one token bucket per store, in this process's memory.

Each replica keeps its own buckets, so N replicas behind a load balancer let a store through
at up to N times its rate; set `rate_limit_per_s` per replica with that in mind. The store's
own rate is read through a short-lived cache, so a request adds no database round trip.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from boomerang.ingest.domain.rate_limit import Bucket, Limit, full, limit_for, retry_after_s, take
from boomerang.ingest.service_layer.ports import StoreRepository
from boomerang.shared.errors import BoomerangError


class RateLimited(BoomerangError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"this store sends events faster than its limit; retry in {retry_after} s")
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RateLimiter:
    def __init__(
        self,
        stores: StoreRepository,
        *,
        default_per_s: float,
        burst: float,
        store_ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_limited: Callable[[], None] = lambda: None,
    ) -> None:
        self._stores = stores
        self._default_per_s = default_per_s
        self._burst = burst
        self._store_ttl_s = store_ttl_s
        self._clock = clock
        self._on_limited = on_limited
        self._buckets: dict[str, Bucket] = {}
        self._limits: dict[str, tuple[Limit, float]] = {}  # store id -> (limit, read at)

    async def admit(self, store_id: str, events: int) -> None:
        """Spend `events` tokens of the store's bucket, or raise RateLimited (nothing spent)."""
        limit = await self._limit_of(store_id)
        now = self._clock()
        bucket, wait_s = take(self._buckets.get(store_id) or full(limit, now), limit, events, now)
        self._buckets[store_id] = bucket
        if wait_s:
            self._on_limited()
            raise RateLimited(retry_after_s(wait_s))

    async def _limit_of(self, store_id: str) -> Limit:
        cached = self._limits.get(store_id)
        if cached is not None and self._clock() - cached[1] < self._store_ttl_s:
            return cached[0]
        store = await self._stores.get_store(store_id)
        limit = limit_for(
            store.rate_limit_per_s if store else None, default_per_s=self._default_per_s, burst=self._burst
        )
        self._limits[store_id] = (limit, self._clock())
        return limit

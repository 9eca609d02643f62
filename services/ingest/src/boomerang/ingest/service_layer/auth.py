"""Which store a request writes to: the one its write key belongs to, never what the body says."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from boomerang.ingest.domain.stores import Store, WriteKey
from boomerang.ingest.domain.write_keys import hash_key
from boomerang.ingest.service_layer.ports import StoreRepository
from boomerang.shared.errors import Unauthorized


class MissingWriteKey(Unauthorized):
    code = "missing_write_key"

    def __init__(self) -> None:
        super().__init__("send the store's write key as the Basic auth username, or as writeKey")

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="boomerang-ingest"'}


class InvalidWriteKey(Unauthorized):
    code = "invalid_write_key"

    def __init__(self) -> None:
        super().__init__("unknown or revoked write key")

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="boomerang-ingest"'}


async def store_of_key(stores: StoreRepository, key: str | None) -> str:
    if not key:
        raise MissingWriteKey()
    found = await stores.key_by_hash(hash_key(key))
    if found is None or not found.active:
        raise InvalidWriteKey()
    return found.store_id


class CachedWriteKeys:
    """A StoreRepository that remembers each key it looked up, found or not, for `ttl_s`.

    Every request authenticates, and a key changes rarely: without this, the lookup was a
    database round trip per request. The price is that a key revoked (or created after a
    failed try) elsewhere, by the CLI or another replica, takes up to `ttl_s` to be noticed by
    this one; keys revoked through this object are dropped at once. Everything but key
    lookups goes straight to `inner`.
    """

    def __init__(
        self,
        inner: StoreRepository,
        *,
        ttl_s: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._keys: dict[str, tuple[WriteKey | None, float]] = {}  # hash -> (key, read at)

    def __len__(self) -> int:
        return len(self._keys)

    async def key_by_hash(self, key_hash: str) -> WriteKey | None:
        cached = self._keys.get(key_hash)
        now = self._clock()
        if cached is not None and now - cached[1] < self._ttl_s:
            return cached[0]
        found = await self._inner.key_by_hash(key_hash)
        self._keys.pop(key_hash, None)
        while len(self._keys) >= self._max_entries:
            del self._keys[next(iter(self._keys))]  # the oldest entry (a flood of wrong keys)
        if self._ttl_s > 0:
            self._keys[key_hash] = (found, now)
        return found

    async def revoke_key(self, key_id: str, at: datetime) -> WriteKey | None:
        revoked = await self._inner.revoke_key(key_id, at)
        if revoked is not None:
            self._keys.pop(revoked.key_hash, None)
        return revoked

    async def add_key(self, key: WriteKey) -> None:
        await self._inner.add_key(key)
        self._keys.pop(key.key_hash, None)

    async def add_store(self, store: Store, first_key: WriteKey) -> None:
        await self._inner.add_store(store, first_key)
        self._keys.pop(first_key.key_hash, None)

    async def get_store(self, store_id: str) -> Store | None:
        return await self._inner.get_store(store_id)

    async def update_store(self, store: Store) -> bool:
        return await self._inner.update_store(store)

    async def keys_of(self, store_id: str) -> list[WriteKey]:
        return await self._inner.keys_of(store_id)

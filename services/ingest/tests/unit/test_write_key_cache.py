"""CachedWriteKeys: a key is looked up once per TTL; a revoked key is refused at the latest after it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from boomerang.ingest.service_layer import stores
from boomerang.ingest.service_layer.auth import CachedWriteKeys, InvalidWriteKey, store_of_key

from .fakes import FakeStores

NOW = datetime(2025, 3, 1, tzinfo=timezone.utc)
TTL_S = 10.0


class CountingStores(FakeStores):
    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    async def key_by_hash(self, key_hash: str):
        self.lookups += 1
        return await super().key_by_hash(key_hash)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def inner() -> CountingStores:
    return CountingStores()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cached(inner, clock) -> CachedWriteKeys:
    return CachedWriteKeys(inner, ttl_s=TTL_S, clock=clock)


async def test_a_key_is_looked_up_once_per_ttl(inner, clock, cached):
    issued = await stores.create_store(inner, "shop", name=None, chosen_key=None, now=NOW)
    for _ in range(3):
        assert await store_of_key(cached, issued.key) == "shop"
    assert inner.lookups == 1
    clock.now += TTL_S
    assert await store_of_key(cached, issued.key) == "shop"
    assert inner.lookups == 2


async def test_a_key_revoked_elsewhere_is_refused_once_the_ttl_is_over(inner, clock, cached):
    issued = await stores.create_store(inner, "shop", name=None, chosen_key=None, now=NOW)
    assert await store_of_key(cached, issued.key) == "shop"
    await stores.revoke_key(inner, issued.key_id, now=NOW)  # the CLI, or another replica
    clock.now += TTL_S - 1
    assert await store_of_key(cached, issued.key) == "shop"  # the documented grace
    clock.now += 1
    with pytest.raises(InvalidWriteKey):
        await store_of_key(cached, issued.key)
    clock.now += 3 * TTL_S
    with pytest.raises(InvalidWriteKey):  # and stays refused
        await store_of_key(cached, issued.key)


async def test_a_key_revoked_through_the_cache_is_refused_at_once(inner, cached):
    issued = await stores.create_store(inner, "shop", name=None, chosen_key=None, now=NOW)
    assert await store_of_key(cached, issued.key) == "shop"
    await stores.revoke_key(cached, issued.key_id, now=NOW)
    with pytest.raises(InvalidWriteKey):
        await store_of_key(cached, issued.key)


async def test_an_unknown_key_is_remembered_too_but_a_key_added_here_works_at_once(inner, cached):
    with pytest.raises(InvalidWriteKey):
        await store_of_key(cached, "wk_not-yet-0123456789")
    with pytest.raises(InvalidWriteKey):
        await store_of_key(cached, "wk_not-yet-0123456789")
    assert inner.lookups == 1
    await stores.create_store(cached, "shop", name=None, chosen_key="wk_not-yet-0123456789", now=NOW)
    assert await store_of_key(cached, "wk_not-yet-0123456789") == "shop"


async def test_a_ttl_of_zero_looks_up_every_time(inner, clock):
    cached = CachedWriteKeys(inner, ttl_s=0, clock=clock)
    issued = await stores.create_store(inner, "shop", name=None, chosen_key=None, now=NOW)
    for _ in range(3):
        await store_of_key(cached, issued.key)
    assert inner.lookups == 3


async def test_a_flood_of_wrong_keys_does_not_grow_the_cache_without_bound(inner, clock):
    cached = CachedWriteKeys(inner, ttl_s=TTL_S, max_entries=5, clock=clock)
    issued = await stores.create_store(inner, "shop", name=None, chosen_key=None, now=NOW)
    assert await store_of_key(cached, issued.key) == "shop"
    for n in range(20):
        with pytest.raises(InvalidWriteKey):
            await store_of_key(cached, f"wk_wrong-{n:04d}-0123456789")
    assert len(cached) <= 5
    assert await store_of_key(cached, issued.key) == "shop"  # evicted: looked up again, still fine

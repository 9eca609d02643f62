"""CachedIdentities: links read once are served from memory, for a while, until erased."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from boomerang.ingest.domain.identity import Link
from boomerang.ingest.service_layer.identity import CachedIdentities

from .fakes import FakeIdentities

T0 = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def inner() -> FakeIdentities:
    return FakeIdentities()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def cached(inner, clock) -> CachedIdentities:
    cache = CachedIdentities(inner, clock=clock, ttl=timedelta(minutes=5), max_entries=3)
    await cache.link("s1", [Link("anon:a1", "u1", "identify", T0), Link("anon:a2", "u2", "identify", T0)], T0)
    return cache


async def test_a_link_read_once_is_served_from_memory(cached, inner):
    assert await cached.linked("s1", ["anon:a1"]) == {"anon:a1": "u1"}
    assert await cached.linked("s1", ["anon:a1"]) == {"anon:a1": "u1"}
    assert inner.lookups == 1


async def test_only_what_is_not_cached_is_looked_up(cached, inner):
    await cached.linked("s1", ["anon:a1"])
    assert await cached.linked("s1", ["anon:a1", "anon:a2", "anon:zz"]) == {"anon:a1": "u1", "anon:a2": "u2"}
    assert inner.lookups == 2


async def test_a_missing_link_is_not_cached_because_another_replica_may_record_it(cached, inner):
    assert await cached.linked("s1", ["anon:a3"]) == {}
    await inner.link("s1", [Link("anon:a3", "u3", "identify", T0)], T0)  # another replica
    assert await cached.linked("s1", ["anon:a3"]) == {"anon:a3": "u3"}


async def test_a_cached_link_is_read_again_after_its_ttl(cached, inner, clock):
    await cached.linked("s1", ["anon:a1"])
    clock.now += timedelta(minutes=5, seconds=1)
    await cached.linked("s1", ["anon:a1"])
    assert inner.lookups == 2


async def test_links_are_cached_per_store(cached):
    await cached.linked("s1", ["anon:a1"])
    assert await cached.linked("s2", ["anon:a1"]) == {}


async def test_forgetting_a_customer_drops_their_cached_links_at_once(cached, inner):
    await cached.linked("s1", ["anon:a1", "anon:a2"])
    assert await cached.forget_customer("s1", "u1") == 1
    assert await cached.linked("s1", ["anon:a1", "anon:a2"]) == {"anon:a2": "u2"}
    assert inner.lookups == 2  # a1 had to be asked again; a2 still came from memory


async def test_the_cache_holds_at_most_max_entries(cached, inner):
    links = [Link(f"anon:b{n}", f"v{n}", "identify", T0) for n in range(4)]
    await inner.link("s1", links, T0)
    await cached.linked("s1", [link.previous_id for link in links])
    assert len(cached) == 3

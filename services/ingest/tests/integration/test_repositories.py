"""The SQL adapters on both backends: SQLite (default) and PostgreSQL (production)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from boomerang.ingest.adapters.repositories import SqlSeenMessages, SqlStoreRepository
from boomerang.ingest.domain.stores import Store, WriteKey
from boomerang.ingest.migrations import upgrade
from boomerang.ingest.service_layer.ports import DatabaseUnavailable, KeyExists, StoreExists
from boomerang.shared.db import make_engine

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def engine(database_url: str):
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def key(key_id: str, store_id: str, key_hash: str) -> WriteKey:
    return WriteKey(key_id, store_id, key_hash, key_hash[:10], T0)


async def test_stores_and_keys_round_trip(engine):
    repo = SqlStoreRepository(engine)
    await repo.add_store(Store("shop", "Shop", T0), key("k1", "shop", "h" * 64))
    await repo.add_key(key("k2", "shop", "g" * 64))
    assert await repo.get_store("shop") == Store("shop", "Shop", T0)
    assert await repo.get_store("nope") is None
    assert (await repo.key_by_hash("g" * 64)).id == "k2"
    assert await repo.key_by_hash("x" * 64) is None
    assert [k.id for k in await repo.keys_of("shop")] == ["k1", "k2"]


async def test_duplicates_are_refused(engine):
    repo = SqlStoreRepository(engine)
    await repo.add_store(Store("shop", "Shop", T0), key("k1", "shop", "h" * 64))
    with pytest.raises(StoreExists):
        await repo.add_store(Store("shop", "Again", T0), key("k2", "shop", "g" * 64))
    with pytest.raises(KeyExists):
        await repo.add_store(Store("other", "Other", T0), key("k3", "other", "h" * 64))
    with pytest.raises(KeyExists):
        await repo.add_key(key("k4", "shop", "h" * 64))
    assert await repo.get_store("other") is None  # the failed store was not half-created


async def test_revoking_is_recorded_once(engine):
    repo = SqlStoreRepository(engine)
    await repo.add_store(Store("shop", "Shop", T0), key("k1", "shop", "h" * 64))
    first = await repo.revoke_key("k1", T0 + timedelta(hours=1))
    again = await repo.revoke_key("k1", T0 + timedelta(hours=2))
    assert first.revoked_at == again.revoked_at == T0 + timedelta(hours=1)
    assert not (await repo.key_by_hash("h" * 64)).active
    assert await repo.revoke_key("nope", T0) is None


async def test_seen_ids_are_per_store_and_windowed(engine):
    seen = SqlSeenMessages(engine)
    await seen.remember("s1", ["a", "b"], T0)
    await seen.remember("s2", ["c"], T0 + timedelta(hours=2))
    assert await seen.seen_since("s1", ["a", "b", "c"], T0) == {"a", "b"}
    assert await seen.seen_since("s1", ["a"], T0 + timedelta(seconds=1)) == set()
    assert await seen.seen_since("s2", ["a", "c"], T0) == {"c"}


async def test_remembering_again_refreshes_the_time(engine):
    seen = SqlSeenMessages(engine)
    await seen.remember("s1", ["a"], T0)
    await seen.remember("s1", ["a", "a", "b"], T0 + timedelta(days=2))  # the same id twice is fine
    assert await seen.seen_since("s1", ["a", "b"], T0 + timedelta(days=1)) == {"a", "b"}


async def test_old_ids_are_forgotten(engine):
    seen = SqlSeenMessages(engine)
    await seen.remember("s1", ["old"], T0)
    await seen.remember("s1", ["new"], T0 + timedelta(days=2))
    assert await seen.forget_before(T0 + timedelta(days=1)) == 1
    assert await seen.seen_since("s1", ["old", "new"], T0 - timedelta(days=1)) == {"new"}


async def test_old_ids_are_forgotten_a_few_at_a_time_yet_all(engine):
    seen = SqlSeenMessages(engine)
    await seen.remember("s1", [f"old{n}" for n in range(2600)], T0)  # more than two purge chunks
    await seen.remember("s1", ["new"], T0 + timedelta(days=2))
    assert await seen.forget_before(T0 + timedelta(days=1)) == 2600
    assert await seen.seen_since("s1", ["old0", "old2599", "new"], T0 - timedelta(days=1)) == {"new"}


async def test_a_full_batch_of_ids_fits(engine):
    seen = SqlSeenMessages(engine)
    ids = [f"m{n}" for n in range(2500)]
    await seen.remember("s1", ids, T0)
    assert len(await seen.seen_since("s1", ids, T0)) == 2500


async def test_time_zones_are_compared_as_instants(engine):
    seen = SqlSeenMessages(engine)
    amsterdam = timezone(timedelta(hours=1))
    await seen.remember("s1", ["a"], datetime(2025, 3, 1, 13, tzinfo=amsterdam))  # 12:00 UTC
    assert await seen.seen_since("s1", ["a"], datetime(2025, 3, 1, 11, 59, tzinfo=timezone.utc)) == {"a"}
    assert await seen.seen_since("s1", ["a"], datetime(2025, 3, 1, 12, 1, tzinfo=timezone.utc)) == set()


async def test_an_unreachable_database_is_a_503_not_a_500():
    from boomerang.devstack.kafka_broker import free_port

    engine = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2")
    with pytest.raises(DatabaseUnavailable) as caught:
        await SqlSeenMessages(engine).seen_since("s1", ["a"], T0)
    assert (caught.value.status_code, caught.value.code) == (503, "database_unavailable")
    with pytest.raises(DatabaseUnavailable):
        await SqlStoreRepository(engine).key_by_hash("h" * 64)

"""Store settings and the Shopify order map on both backends: SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from boomerang.ingest.adapters.repositories import SqlStoreRepository
from boomerang.ingest.adapters.shopify_orders import SqlShopifyOrders
from boomerang.ingest.domain.stores import Store, WriteKey
from boomerang.ingest.migrations import upgrade
from boomerang.shared.db import make_engine

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def engine(database_url: str):
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


async def test_the_shopify_secret_and_rate_limit_round_trip(engine):
    repo = SqlStoreRepository(engine)
    store = Store("shop", "Shop", T0, shopify_secret="shpss_abc", rate_limit_per_s=12.5)
    await repo.add_store(store, WriteKey("k1", "shop", "h" * 64, "h" * 10, T0))
    assert await repo.get_store("shop") == store

    changed = replace(store, name="Shop!", shopify_secret=None, rate_limit_per_s=3.0)
    assert await repo.update_store(changed) is True
    assert await repo.get_store("shop") == changed
    assert await repo.update_store(replace(store, id="nope")) is False
    assert await repo.get_store("nope") is None


async def test_orders_remember_their_customer_per_store(engine):
    orders = SqlShopifyOrders(engine)
    assert await orders.customer_of("shop", "1001") is None
    await orders.remember("shop", "1001", "anon:shopify-checkout:tok", T0)
    await orders.remember("shop", "1001", "207119551", T0 + timedelta(minutes=1))  # upsert: the later word
    await orders.remember("other", "1001", "42", T0)
    assert await orders.customer_of("shop", "1001") == "207119551"
    assert await orders.customer_of("other", "1001") == "42"

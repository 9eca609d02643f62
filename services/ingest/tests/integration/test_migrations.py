"""Ingest's migrations build exactly the schema its models describe, on SQLite and PostgreSQL.

If this fails after a model change, write the revision (see boomerang.ingest.migrations).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from boomerang.devstack.migration_contract import MigrationContract
from boomerang.ingest import migrations
from boomerang.ingest.adapters.repositories import SqlStoreRepository
from boomerang.ingest.adapters.tables import TABLES
from boomerang.ingest.domain.stores import Store, WriteKey
from boomerang.ingest.entrypoints.cli import app

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
SHOP = Store("shop", "Shop", T0)


class TestIngestMigrations(MigrationContract):
    tables = TABLES
    script_location = migrations.SCRIPT_LOCATION
    version_table = migrations.VERSION_TABLE
    upgrade = staticmethod(migrations.upgrade)
    cli = app
    database_url_env = "BOOMERANG_INGEST_DATABASE_URL"

    async def add_a_row(self, engine) -> None:
        await SqlStoreRepository(engine).add_store(SHOP, WriteKey("k1", "shop", "h" * 64, "h" * 10, T0))

    def add_a_baseline_row(self, engine) -> None:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO ingest_stores (id, name, created_at) VALUES (:id, :name, :at)"),
                {"id": SHOP.id, "name": SHOP.name, "at": T0},
            )

    async def row_is_there(self, engine) -> bool:
        return await SqlStoreRepository(engine).get_store("shop") == SHOP

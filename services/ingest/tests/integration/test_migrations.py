"""Ingest's migrations build exactly the schema its models describe, on SQLite and PostgreSQL.

If this fails after a model change, write the revision (see boomerang.ingest.migrations).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel
from typer.testing import CliRunner

from boomerang.ingest.adapters.repositories import SqlStoreRepository
from boomerang.ingest.adapters.tables import TABLES
from boomerang.ingest.domain.stores import Store, WriteKey
from boomerang.ingest.entrypoints.cli import app
from boomerang.ingest.migrations import SCRIPT_LOCATION, VERSION_TABLE, upgrade
from boomerang.shared.db import alembic_config, make_engine, schema_drift

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
OWN_TABLES = {t.name for t in TABLES}


@pytest.fixture
def engine(database_url: str):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def revision(engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def head() -> str:
    return ScriptDirectory.from_config(alembic_config(SCRIPT_LOCATION, VERSION_TABLE)).get_current_head()


async def add_a_store(engine) -> None:
    first_key = WriteKey("k1", "shop", "h" * 64, "h" * 10, T0)
    await SqlStoreRepository(engine).add_store(Store("shop", "Shop", T0), first_key)


async def store_is_there(engine) -> bool:
    return await SqlStoreRepository(engine).get_store("shop") == Store("shop", "Shop", T0)


def test_upgrading_an_empty_database_builds_exactly_what_the_models_describe(database_url, engine):
    upgrade(database_url)
    assert schema_drift(engine, TABLES) == []
    assert set(inspect(engine).get_table_names()) == OWN_TABLES | {VERSION_TABLE}
    assert revision(engine) == head()


async def test_upgrading_again_changes_nothing(database_url, engine):
    upgrade(database_url)
    await add_a_store(engine)
    upgrade(database_url)
    assert await store_is_there(engine)
    assert revision(engine) == head()


async def test_a_database_built_before_migrations_is_adopted_with_its_data(database_url, engine):
    SQLModel.metadata.create_all(engine, tables=TABLES)  # what every start did before migrations
    await add_a_store(engine)
    upgrade(database_url)
    assert await store_is_there(engine)
    assert revision(engine) == head()
    assert schema_drift(engine, TABLES) == []


def test_downgrading_to_nothing_and_back(database_url, engine):
    upgrade(database_url)
    command.downgrade(alembic_config(SCRIPT_LOCATION, VERSION_TABLE, url=database_url), "base")
    assert set(inspect(engine).get_table_names()) == {VERSION_TABLE}
    upgrade(database_url)
    assert schema_drift(engine, TABLES) == []


def test_the_db_upgrade_command(database_url, engine, monkeypatch):
    monkeypatch.setenv("BOOMERANG_INGEST_DATABASE_URL", database_url)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert revision(engine) == head()
    assert OWN_TABLES <= set(inspect(engine).get_table_names())

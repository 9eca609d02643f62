"""Feedback's migrations build exactly the schema its models describe, on SQLite and PostgreSQL.

If this fails after a model change, write the revision (see boomerang.feedback.migrations).
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

from boomerang.feedback.adapters.repository import TABLES, SqlProviderEventStore
from boomerang.feedback.domain.model import ProviderEvent
from boomerang.feedback.entrypoints.cli import cli as app
from boomerang.feedback.migrations import SCRIPT_LOCATION, VERSION_TABLE, upgrade
from boomerang.shared.db import alembic_config, make_engine, schema_drift

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
OPENED = ProviderEvent("sendgrid", "sg-1", "open", {"sg_event_id": "sg-1", "event": "open"}, T0)
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


def add_an_event(engine) -> None:
    assert len(SqlProviderEventStore(engine).add_new([OPENED])) == 1


def event_is_there(engine) -> bool:
    found = SqlProviderEventStore(engine).find("sendgrid", "sg-1")
    return found is not None and found.event == OPENED


def test_upgrading_an_empty_database_builds_exactly_what_the_models_describe(database_url, engine):
    upgrade(database_url)
    assert schema_drift(engine, TABLES) == []
    assert set(inspect(engine).get_table_names()) == OWN_TABLES | {VERSION_TABLE}
    assert revision(engine) == head()


def test_upgrading_again_changes_nothing(database_url, engine):
    upgrade(database_url)
    add_an_event(engine)
    upgrade(database_url)
    assert event_is_there(engine)
    assert revision(engine) == head()


def test_a_database_built_before_migrations_is_adopted_with_its_data(database_url, engine):
    SQLModel.metadata.create_all(engine, tables=TABLES)  # what every start did before migrations
    add_an_event(engine)
    upgrade(database_url)
    assert event_is_there(engine)
    assert revision(engine) == head()
    assert schema_drift(engine, TABLES) == []


def test_downgrading_to_nothing_and_back(database_url, engine):
    upgrade(database_url)
    command.downgrade(alembic_config(SCRIPT_LOCATION, VERSION_TABLE, url=database_url), "base")
    assert set(inspect(engine).get_table_names()) == {VERSION_TABLE}
    upgrade(database_url)
    assert schema_drift(engine, TABLES) == []


def test_the_db_upgrade_command(database_url, engine, monkeypatch):
    monkeypatch.setenv("BOOMERANG_FEEDBACK_DATABASE_URL", database_url)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert revision(engine) == head()
    assert OWN_TABLES <= set(inspect(engine).get_table_names())

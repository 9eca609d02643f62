"""What every service's migrations must do, written once.

A service's tests subclass `MigrationContract` as `Test<Service>Migrations`, say where its
migrations, tables and CLI are and how to write and read back one row; pytest collects the
inherited tests and runs each on SQLite and PostgreSQL (the `database_url` fixture).
"""

from __future__ import annotations

import inspect as pyinspect
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Table, inspect, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from boomerang.shared.db import alembic_config, make_engine, schema_drift


async def _settle(value: Any) -> Any:
    return await value if pyinspect.isawaitable(value) else value


class MigrationContract:
    tables: ClassVar[list[Table]]
    script_location: ClassVar[str]
    version_table: ClassVar[str]
    upgrade: ClassVar[Callable[[str], None]]
    cli: ClassVar[Any]
    database_url_env: ClassVar[str]
    baseline_revision: ClassVar[str] = "0001"

    def add_a_row(self, engine: Engine) -> Any:
        raise NotImplementedError

    def row_is_there(self, engine: Engine) -> Any:
        raise NotImplementedError

    @pytest.fixture
    def engine(self, database_url: str) -> Iterator[Engine]:
        engine = make_engine(database_url)
        yield engine
        engine.dispose()

    def revision(self, engine: Engine) -> str | None:
        with engine.connect() as conn:
            opts = {"version_table": self.version_table}
            return MigrationContext.configure(conn, opts=opts).get_current_revision()

    def head(self) -> str | None:
        config = alembic_config(self.script_location, self.version_table)
        return ScriptDirectory.from_config(config).get_current_head()

    def own_tables(self) -> set[str]:
        return {t.name for t in self.tables}

    def test_upgrading_an_empty_database_builds_exactly_what_the_models_describe(self, database_url, engine):
        type(self).upgrade(database_url)
        assert schema_drift(engine, self.tables) == []
        assert set(inspect(engine).get_table_names()) == self.own_tables() | {self.version_table}
        assert self.revision(engine) == self.head()

    async def test_upgrading_again_changes_nothing(self, database_url, engine):
        type(self).upgrade(database_url)
        await _settle(self.add_a_row(engine))
        type(self).upgrade(database_url)
        assert await _settle(self.row_is_there(engine))
        assert self.revision(engine) == self.head()

    async def test_a_database_built_before_migrations_is_adopted_with_its_data(self, database_url, engine):
        self.build_as_before_migrations(database_url, engine)
        await _settle(self.add_a_baseline_row(engine))
        type(self).upgrade(database_url)
        assert await _settle(self.row_is_there(engine))
        assert self.revision(engine) == self.head()
        assert schema_drift(engine, self.tables) == []

    def build_as_before_migrations(self, database_url: str, engine: Engine) -> None:
        """The schema `create_all` built before migrations: the baseline revision, unstamped."""
        config = alembic_config(self.script_location, self.version_table, url=database_url)
        command.upgrade(config, self.baseline_revision)
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {self.version_table}"))

    def add_a_baseline_row(self, engine: Engine) -> Any:
        """A row written in the baseline's schema; override once the models outgrew it."""
        return self.add_a_row(engine)

    def test_downgrading_to_nothing_and_back(self, database_url, engine):
        type(self).upgrade(database_url)
        command.downgrade(alembic_config(self.script_location, self.version_table, url=database_url), "base")
        assert set(inspect(engine).get_table_names()) == {self.version_table}
        type(self).upgrade(database_url)
        assert schema_drift(engine, self.tables) == []

    def test_the_db_upgrade_command(self, database_url, engine, monkeypatch):
        monkeypatch.setenv(self.database_url_env, database_url)
        result = CliRunner().invoke(self.cli, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert self.revision(engine) == self.head()
        assert self.own_tables() <= set(inspect(engine).get_table_names())

"""The segmenter's migrations build exactly the schema its models describe, on SQLite and PostgreSQL.

If this fails after a model change, write the revision (see boomerang.segmenter.migrations).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from boomerang.devstack.migration_contract import MigrationContract
from boomerang.segmenter import migrations
from boomerang.segmenter.adapters.snapshots import TABLES, SqlSnapshots
from boomerang.segmenter.domain.snapshots import CustomerSnapshot
from boomerang.segmenter.entrypoints.cli import cli

pytestmark = pytest.mark.integration
AT = datetime(2026, 3, 1, tzinfo=timezone.utc)
ADA = CustomerSnapshot("s1", "c1", "new", "regular", {"orders": 1}, None, AT, AT)


class TestSegmenterMigrations(MigrationContract):
    tables = TABLES
    script_location = migrations.SCRIPT_LOCATION
    version_table = migrations.VERSION_TABLE
    upgrade = staticmethod(migrations.upgrade)
    cli = cli
    database_url_env = "BOOMERANG_SEGMENTER_DATABASE_URL"

    def add_a_row(self, engine) -> None:
        SqlSnapshots(engine).write([ADA], [])

    def row_is_there(self, engine) -> bool:
        view = SqlSnapshots(engine).customer("s1", "c1")
        return view is not None and view.snapshot == ADA

    # Born with migrations: there is no create_all database to adopt, so that test is not inherited.
    test_a_database_built_before_migrations_is_adopted_with_its_data = None

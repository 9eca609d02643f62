"""Feedback's migrations build exactly the schema its models describe, on SQLite and PostgreSQL.

If this fails after a model change, write the revision (see boomerang.feedback.migrations).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from boomerang.devstack.migration_contract import MigrationContract
from boomerang.feedback import migrations
from boomerang.feedback.adapters.repository import TABLES, SqlProviderEventStore
from boomerang.feedback.domain.model import ProviderEvent
from boomerang.feedback.entrypoints.cli import cli

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
OPENED = ProviderEvent("sendgrid", "sg-1", "open", {"sg_event_id": "sg-1", "event": "open"}, T0)


class TestFeedbackMigrations(MigrationContract):
    tables = TABLES
    script_location = migrations.SCRIPT_LOCATION
    version_table = migrations.VERSION_TABLE
    upgrade = staticmethod(migrations.upgrade)
    cli = cli
    database_url_env = "BOOMERANG_FEEDBACK_DATABASE_URL"

    def add_a_row(self, engine) -> None:
        assert len(SqlProviderEventStore(engine).add_new([OPENED])) == 1

    def row_is_there(self, engine) -> bool:
        found = SqlProviderEventStore(engine).find("sendgrid", "sg-1")
        return found is not None and found.event == OPENED

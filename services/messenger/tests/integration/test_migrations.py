"""The messenger's migrations build exactly the schema its models describe, on SQLite and PostgreSQL.

If this fails after a model change, write the revision (see boomerang.messenger.migrations).
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from boomerang.devstack.migration_contract import MigrationContract
from boomerang.messenger import migrations
from boomerang.messenger.adapters.store import TABLES, SqlContacts
from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.entrypoints.cli import cli

pytestmark = pytest.mark.integration
ADA = Contact("s1", "c1", email="ada@example.com", email_consent=True, locale="nl-NL")


class TestMessengerMigrations(MigrationContract):
    tables = TABLES
    script_location = migrations.SCRIPT_LOCATION
    version_table = migrations.VERSION_TABLE
    upgrade = staticmethod(migrations.upgrade)
    cli = cli
    database_url_env = "BOOMERANG_MESSENGER_DATABASE_URL"

    def add_a_row(self, engine) -> None:
        SqlContacts(engine).save(ADA)

    def add_a_baseline_row(self, engine) -> None:
        # The contact card as 0001 knew it (the birthday came with 0006).
        statement = text(
            "INSERT INTO messenger_contacts (store_id, customer_id, email, email_consent, locale)"
            " VALUES ('s1', 'c1', 'ada@example.com', :yes, 'nl-NL')"
        )
        with engine.begin() as conn:
            conn.execute(statement, {"yes": True})

    def row_is_there(self, engine) -> bool:
        return SqlContacts(engine).get("s1", "c1") == ADA

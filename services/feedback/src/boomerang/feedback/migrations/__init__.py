"""Feedback's schema history (alembic), inside the package so the wheel and the image carry it.

After changing a model in adapters/repository.py, draft the next revision and review it:
    uv run python -c 'from boomerang.feedback.migrations import draft; draft("what changed")'
tests/integration/test_migrations.py fails while models and migrations disagree.
"""

from __future__ import annotations

from pathlib import Path

from boomerang.shared.db import Baseline, draft_revision, migrate

SCRIPT_LOCATION = Path(__file__).parent
VERSION_TABLE = "alembic_version_feedback"
# What create_all built before migrations existed: such databases are stamped at 0001, not rebuilt.
BEFORE_MIGRATIONS = Baseline("0001", ("feedback_provider_events",))


def upgrade(database_url: str) -> None:
    """Bring the database to the newest revision; nothing happens when it is there already."""
    migrate(database_url, SCRIPT_LOCATION, VERSION_TABLE, baseline=BEFORE_MIGRATIONS)


def draft(message: str, database_url: str | None = None) -> Path:
    """Autogenerate the next revision (against a scratch SQLite database unless given a URL)."""
    return draft_revision(SCRIPT_LOCATION, VERSION_TABLE, message, database_url)

"""The segmenter's schema history (alembic), inside the package so the wheel and the image carry it.

After changing a model in adapters/snapshots.py, draft the next revision and review it:
    uv run python -c 'from boomerang.segmenter.migrations import draft; draft("what changed")'
tests/integration/test_snapshot_migrations.py fails while models and migrations disagree.
"""

from __future__ import annotations

from pathlib import Path

from boomerang.shared.db import draft_revision, migrate

SCRIPT_LOCATION = Path(__file__).parent
VERSION_TABLE = "alembic_version_segmenter"


def upgrade(database_url: str) -> None:
    """Bring the database to the newest revision; nothing happens when it is there already.
    No baseline: the segmenter's store was born with migrations (nothing was built by create_all)."""
    migrate(database_url, SCRIPT_LOCATION, VERSION_TABLE)


def draft(message: str, database_url: str | None = None) -> Path:
    """Autogenerate the next revision (against a scratch SQLite database unless given a URL)."""
    return draft_revision(SCRIPT_LOCATION, VERSION_TABLE, message, database_url)

"""Alembic environment for the segmenter: only the segmenter's tables, in its own version table."""

from boomerang.segmenter.adapters.snapshots import TABLES
from boomerang.shared.db import run_migrations

run_migrations(TABLES)

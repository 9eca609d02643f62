"""Alembic environment for ingest: only ingest's tables, in its own version table."""

from boomerang.ingest.adapters.tables import TABLES
from boomerang.shared.db import run_migrations

run_migrations(TABLES)

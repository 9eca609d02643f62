"""Alembic environment for the messenger: only the messenger's tables, in its own version table."""

from boomerang.messenger.adapters.store import TABLES
from boomerang.shared.db import run_migrations

run_migrations(TABLES)

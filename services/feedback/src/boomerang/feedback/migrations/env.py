"""Alembic environment for feedback: only feedback's tables, in its own version table."""

from boomerang.feedback.adapters.repository import TABLES
from boomerang.shared.db import run_migrations

run_migrations(TABLES)

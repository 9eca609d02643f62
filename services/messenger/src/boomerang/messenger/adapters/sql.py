"""Statements compiled once, for the per-message hot path."""

from __future__ import annotations

from typing import Any

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite


def insert_for(dialect: str) -> Any:
    """The dialect's INSERT, the one with ON CONFLICT."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def precompiled(statement: Any, table: Any, dialect: str) -> TextClause:
    """The statement as SQL text with named, typed parameters, one per column of `table` (every
    row must give them all). SQLAlchemy does not cache the dialects' INSERT ... ON CONFLICT: it
    compiled one per call, more work than the database's; a text is cached, and the column
    types still convert the values (datetimes on SQLite)."""
    named = (postgresql if dialect == "postgresql" else sqlite).dialect(paramstyle="named")
    sql = str(statement.compile(dialect=named, column_keys=[column.name for column in table.c]))
    return text(sql).bindparams(*(bindparam(column.name, type_=column.type) for column in table.c))

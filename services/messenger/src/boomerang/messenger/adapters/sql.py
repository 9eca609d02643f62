"""Statements compiled once, for the per-message hot path."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


class ShortIn:
    """A read with one `column IN (...)` list that is usually short (an order's products, a
    customer's categories), built once per list size class (1, 2, 4, ... `most`) with plain
    parameters: SQLAlchemy's expanding parameters rewrite the compiled SQL on every execution,
    which cost about a third of such a read. A shorter list is padded by repeating its last value
    (a value twice in an IN list means the same); an empty or a longer list takes the expanding
    form. `build(values)` returns the statement with `column.in_(values)`."""

    def __init__(self, build: Callable[[Any], Any], name: str, most: int = 64) -> None:
        self._build = build
        self._name = name
        self._most = most
        self._expanding = build(bindparam(name, expanding=True))
        self._sized: dict[int, Any] = {}

    def __call__(self, values: Sequence[Any], **params: Any) -> tuple[Any, dict[str, Any]]:
        """The statement for `values` and its parameters, with `params` (the other ones)."""
        count = len(values)
        if count == 0 or count > self._most:
            return self._expanding, {**params, self._name: list(values)}
        size = 1 << (count - 1).bit_length()
        statement = self._sized.get(size)
        if statement is None:  # two threads may build one each: the same statement
            names = [f"{self._name}_{i}" for i in range(size)]
            statement = self._sized[size] = self._build([bindparam(name) for name in names])
        padded = [*values, *[values[-1]] * (size - count)]
        return statement, {**params, **{f"{self._name}_{i}": value for i, value in enumerate(padded)}}

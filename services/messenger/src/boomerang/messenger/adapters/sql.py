"""Statements compiled once, and run on the driver's cursor, for the per-message hot path."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Interval,
    LargeBinary,
    Numeric,
    PickleType,
    Time,
    bindparam,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import psycopg  # noqa: F401  (postgresql.psycopg.dialect)
from sqlalchemy.engine import Connection, Engine


class LoopReads:
    """Reads on an event loop share one connection per turn of the loop.

    Handling a message reads the contact, its suppressions, the ledger's history and the
    recommendations, each on its own `engine.connect()`: taking a connection from the pool and
    giving it back (on PostgreSQL with pool_pre_ping's round trip) cost as much as SQLite's own
    reads. On a thread with a running event loop, `connect()` yields the turn's connection
    instead, in autocommit: taken at the turn's first read, given back when the loop comes round
    (`call_soon`), or at once when a read fails. Elsewhere it is `engine.connect()`. For reads
    only: a write takes its own transaction.
    `loop_reads(engine)` is the engine's one instance, which every adapter on it shares."""

    def __init__(self, engine: Engine) -> None:
        # A proxy: `loop_reads` keeps an instance per engine for as long as the engine lives,
        # which a strong reference from here would be forever.
        self._engine = weakref.proxy(engine)
        self._local = threading.local()  # (loop, connection) of this thread's turn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            with self._engine.connect() as conn:
                yield conn
            return
        held = getattr(self._local, "held", None)
        if held is None or held[0] is not loop:  # a turn of a loop gone without giving it back
            self._give_back()
            # Autocommit: each read sees what was committed before it, and on PostgreSQL no
            # transaction stays open for the rest of the turn.
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            held = self._local.held = (loop, conn)
            loop.call_soon(self._give_back)
        try:
            yield held[1]
        except BaseException:
            self._give_back()
            raise

    def _give_back(self) -> None:
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None:
            held[1].close()


_LOOP_READS: weakref.WeakKeyDictionary[Engine, LoopReads] = weakref.WeakKeyDictionary()
_LOOP_READS_LOCK = threading.Lock()


def loop_reads(engine: Engine) -> LoopReads:
    with _LOOP_READS_LOCK:
        found = _LOOP_READS.get(engine)
        if found is None:
            found = _LOOP_READS[engine] = LoopReads(engine)
        return found


def insert_for(dialect: str) -> Any:
    """The dialect's INSERT, the one with ON CONFLICT."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


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


class Prepared:
    """A statement compiled once to the driver's own SQL and run on the driver's cursor, inside
    a SQLAlchemy connection (so its transaction): on the per-message path SQLAlchemy's execution
    (building the context, processing every parameter and column) cost several times SQLite's
    own work. What SQLAlchemy's types would do is done here, for the types these statements
    use: on SQLite datetimes and dates go in as SQLAlchemy's text and come back parsed (naive, as
    SQLAlchemy gives them), booleans come back as bool; psycopg converts all of them itself.

    `Prepared.of(statement, dialect)` falls back to plain SQLAlchemy execution (`_Executed`)
    for what it cannot run this way (an expanding IN list, a type it does not convert), so a
    caller never has to know. Rows are tuples in the statement's column order."""

    def __init__(self, sql: str, defaults: dict[str, Any], convert: tuple[Any, ...] | None, sqlite: bool) -> None:
        self.sql = sql
        self._defaults = defaults
        self._convert = convert  # per result column, SQLite only; None: no conversion needed
        self._sqlite = sqlite

    @staticmethod
    def of(statement: Any, dialect: str, column_keys: Sequence[str] | None = None) -> Prepared | _Executed:
        is_sqlite = dialect == "sqlite"
        target = sqlite.dialect(paramstyle="named") if is_sqlite else postgresql.psycopg.dialect()
        compiled = statement.compile(dialect=target, column_keys=column_keys)
        sql = str(compiled)
        if "POSTCOMPILE" in sql:  # expanding IN: the SQL depends on the list
            return _Executed(statement)
        try:
            convert = _converters(compiled) if is_sqlite else None
        except TypeError:
            return _Executed(statement)
        defaults = {name: value for name, value in compiled.construct_params(_check=False).items() if value is not None}
        return Prepared(sql, defaults, convert, is_sqlite)

    def all(self, conn: Any, params: dict[str, Any] | None = None) -> list[tuple]:
        cursor = conn.connection.cursor()
        try:
            cursor.execute(self.sql, self._params(params))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return [self._row(row) for row in rows] if self._convert else [tuple(row) for row in rows]

    def first(self, conn: Any, params: dict[str, Any] | None = None) -> tuple | None:
        rows = self.all(conn, params)
        return rows[0] if rows else None

    def run(self, conn: Any, params: dict[str, Any] | None = None) -> int:
        """The statement for one set of parameters; the rows it changed."""
        cursor = conn.connection.cursor()
        try:
            cursor.execute(self.sql, self._params(params))
            return cursor.rowcount
        finally:
            cursor.close()

    def run_many(self, conn: Any, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:  # an empty parameter list would run the statement once with no values
            return
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(self.sql, [self._params(row) for row in rows])
        finally:
            cursor.close()

    def _params(self, params: dict[str, Any] | None) -> dict[str, Any]:
        merged = {**self._defaults, **params} if params else dict(self._defaults)
        if self._sqlite:
            for name, value in merged.items():
                if isinstance(value, date):
                    merged[name] = _sqlite_text(value)
        return merged

    def _row(self, row: Sequence[Any]) -> tuple:
        return tuple(value if f is None or value is None else f(value) for f, value in zip(self._convert, row))


class _Executed:
    """Plain SQLAlchemy execution with `Prepared`'s interface."""

    def __init__(self, statement: Any) -> None:
        self._statement = statement

    def all(self, conn: Any, params: dict[str, Any] | None = None) -> list[tuple]:
        return [tuple(row) for row in conn.execute(self._statement, params or {})]

    def first(self, conn: Any, params: dict[str, Any] | None = None) -> tuple | None:
        row = conn.execute(self._statement, params or {}).first()
        return tuple(row) if row is not None else None

    def run(self, conn: Any, params: dict[str, Any] | None = None) -> int:
        return conn.execute(self._statement, params or {}).rowcount

    def run_many(self, conn: Any, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            conn.execute(self._statement, list(rows))


class PreparedCache:
    """Each statement prepared once for an engine's dialect (the `ShortIn` sizes included)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._prepared: dict[int, tuple[Any, Prepared | _Executed]] = {}

    def __call__(self, statement: Any, column_keys: Sequence[str] | None = None) -> Prepared | _Executed:
        found = self._prepared.get(id(statement))
        if found is None:  # the statement is kept with it, so its id is never reused
            found = self._prepared[id(statement)] = (statement, Prepared.of(statement, self.dialect, column_keys))
        return found[1]


def _converters(compiled: Any) -> tuple[Any, ...] | None:
    """What SQLAlchemy's SQLite types do to each result column; TypeError for a type not
    handled here."""
    found = []
    for column in compiled._result_columns:  # (keyname, name, objects, type) per result column
        kind = column.type
        if isinstance(kind, DateTime):
            found.append(datetime.fromisoformat)
        elif isinstance(kind, Date):
            found.append(date.fromisoformat)
        elif isinstance(kind, Boolean):
            found.append(bool)
        elif isinstance(kind, Numeric | JSON | Enum | PickleType | LargeBinary | Interval | Time):
            raise TypeError(f"{kind!r} is not converted here")
        else:
            found.append(None)
    return tuple(found) if any(f is not None for f in found) else None


def _sqlite_text(value: date) -> str:
    """SQLAlchemy's SQLite storage format, in UTC: SQLite keeps no zone, and every reader takes
    the text for UTC (SQLAlchemy itself would drop another offset and keep the local time)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(" ", "microseconds")
    return value.isoformat()

"""The request path's SQL, grouped: one hand-over and one transaction per turn of the event loop.

Each request needs a few tiny statements (which of these messageIds were seen? remember them;
which customer is this visitor?). Run one by one, a transaction per statement costs more than the
statement. So the repositories queue their work here, and what one turn of the event loop queued
(e.g. the records of every request whose events one Kafka ack confirmed) runs in one transaction,
each caller answered with its own result. A request alone waits for nobody: nothing is held back
to fill a group.

Where it runs depends on the database. PostgreSQL is a network round trip: a thread of its own
does the work while the loop serves. SQLite answers from a local file in microseconds, less than
the hand-over to a thread and back costs (about 75 µs of CPU each way in, out and through the
GIL), so its groups run on the loop itself. The price is that the loop waits if another
connection holds SQLite's write lock: the purges therefore delete in small transactions.

If a group fails, each of its pieces runs again alone, so one caller's error (or a database that
went away mid-group) is that caller's answer only. Every piece of work must therefore be safe to
run twice: reads, upserts, inserts that ignore conflicts, deletes.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from boomerang.ingest.service_layer.ports import DatabaseUnavailable

T = TypeVar("T")
Cursor = Any  # a DB-API cursor (sqlite3, psycopg): SQLAlchemy's Connection cost more than the SQL
Work = Callable[[Cursor], Any]
_STOP = object()


class SqlWorker:
    def __init__(self, engine: Engine, *, on_loop: bool | None = None, idle_s: float = 30.0) -> None:
        """`on_loop`: run groups on the event loop (default: for SQLite only, see above);
        `idle_s`: the thread stops after this long without work, and starts again when needed."""
        self._engine = engine
        self._on_loop = engine.dialect.name == "sqlite" if on_loop is None else on_loop
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._idle_s = idle_s
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._gathering: list[tuple[Work, asyncio.Future[Any]]] = []  # this turn of the loop's
        self._gathering_in: asyncio.AbstractEventLoop | None = None

    async def run(self, work: Callable[[Cursor], T]) -> T:
        """`work(cursor)`, inside a transaction shared with whatever else this turn of the loop
        queued; raises what it raised (DatabaseUnavailable if the database did not answer).
        The cursor is the driver's own: statements in its parameter style (see `Dialect`)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._gathering and self._gathering_in is not loop:
            self._hand_over()  # gathered in another loop (tests run several): do not mix them
        if not self._gathering:
            # Hand over at the end of this turn of the loop, with whatever else comes in it:
            # e.g. every request whose events one Kafka ack confirmed.
            loop.call_soon(self._hand_over)
            self._gathering_in = loop
        self._gathering.append((work, future))
        return await future

    def _hand_over(self) -> None:
        gathered, self._gathering = self._gathering, []
        if not gathered:  # handed over early (see run)
            return
        if self._on_loop:
            self._answer(gathered, self._run_group([work for work, _ in gathered]))
            return
        with self._lock:  # the thread may be deciding to stop for want of work
            self._queue.put(gathered)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="ingest-sql", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Stop the thread once what is queued has run (at shutdown, before the engine goes)."""
        with self._lock:
            thread = self._thread
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout=30)

    # -- the work itself (on the worker thread, or the loop for SQLite) ----------------------

    def _serve(self) -> None:
        while True:
            try:
                handed = [self._queue.get(timeout=self._idle_s)]
            except queue.Empty:  # nothing came for a while: stop; the next run() starts a thread
                if self._retired():
                    return
                continue
            while True:
                try:
                    handed.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = _STOP in handed
            group = [item for gathered in handed if gathered is not _STOP for item in gathered]
            if group:
                self._answer(group, self._run_group([work for work, _ in group]))
            if stop and self._retired():
                return

    def _retired(self) -> bool:
        with self._lock:  # run() queues under this lock: nothing can slip in unserved
            if not self._queue.empty():
                return False
            self._thread = None
            return True

    def _run_group(self, works: list[Work]) -> list[tuple[bool, Any]]:
        try:
            results = self._in_one_transaction(works)
            return [(True, result) for result in results]
        except Exception as exc:  # noqa: BLE001 - answered to the callers, never lost
            if len(works) == 1:
                return [(False, self._as_unavailable(exc))]
        return [self._run_group([work])[0] for work in works]  # each alone: whose error was it?

    def _in_one_transaction(self, works: list[Work]) -> list[Any]:
        connection = self._engine.raw_connection()  # from the pool (pre-pinged on PostgreSQL)
        cursor = None
        try:
            cursor = connection.cursor()
            results = [work(cursor) for work in works]
            connection.commit()
            return results
        except BaseException as exc:
            if self._engine.dialect.is_disconnect(exc, connection.dbapi_connection, cursor):
                connection.invalidate()  # a new connection next time, as SQLAlchemy itself does
            else:
                with contextlib.suppress(Exception):
                    connection.rollback()
            raise
        finally:
            if cursor is not None:
                with contextlib.suppress(Exception):
                    cursor.close()
            connection.close()  # back to the pool

    def _as_unavailable(self, exc: Exception) -> Exception:
        dbapi = self._engine.dialect.dbapi
        gone = (OperationalError, InterfaceError, dbapi.OperationalError, dbapi.InterfaceError)
        if not isinstance(exc, gone):
            return exc
        orig = exc.orig if isinstance(exc, DBAPIError) else exc
        unavailable = DatabaseUnavailable(f"the ingest database did not answer: {type(orig).__name__}")
        unavailable.__cause__ = exc
        return unavailable

    @staticmethod
    def _answer(group: list[tuple[Work, asyncio.Future[Any]]], outcomes: list[tuple[bool, Any]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for (_, future), (ok, value) in zip(group, outcomes):
            by_loop.setdefault(future.get_loop(), []).append((future, ok, value))
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:  # on the worker thread
            running = None
        for loop, answers in by_loop.items():
            if loop is running:
                _settle(answers)
                continue
            try:
                loop.call_soon_threadsafe(_settle, answers)  # one wake-up of the loop per group
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass


def _settle(answers: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in answers:
        if future.done():  # the caller gave up (cancelled)
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

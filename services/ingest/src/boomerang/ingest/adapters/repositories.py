"""SQL for stores, keys and seen message ids (SQLite or PostgreSQL). All of ingest's SQL lives here.

The engine is synchronous; the async methods run it in a worker thread so the event loop
keeps serving while the database answers. What every request does (the de-dup window, identity
links, kept anonymous events) is plain SQL run through one `SqlWorker`, which shares thread
hand-offs and commits between concurrent requests: SQLAlchemy's statement building cost far more
than SQLite's work (73 µs per remembered id against 3). Store administration and the purges are
rare and keep the ORM.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import DateTime, delete, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlmodel import Session

from boomerang.ingest.adapters.sql_worker import Cursor, SqlWorker
from boomerang.ingest.adapters.tables import StoreRow, WriteKeyRow, utc
from boomerang.ingest.adapters.tables import AnonymousEventRow, IdentityLinkRow
from boomerang.ingest.domain.identity import Link
from boomerang.ingest.domain.stores import Store, WriteKey
from boomerang.ingest.service_layer.ports import DatabaseUnavailable, KeyExists, StoreExists
from boomerang.shared.events import Envelope

_CHUNK = 500  # ids per IN (...) / VALUES list, well under every driver's parameter limit
_PURGE_CHUNK = 1000  # rows per purge transaction: a few milliseconds of SQLite's write lock
_PURGE_PAUSE_S = 0.01
T = TypeVar("T")


async def _in_thread(function: Callable[..., T], *args) -> T:
    try:
        return await asyncio.to_thread(function, *args)
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable(f"the ingest database did not answer: {type(exc.orig).__name__}") from exc


class SqlStoreRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def add_store(self, store: Store, first_key: WriteKey) -> None:
        await _in_thread(self._add_store, store, first_key)

    async def get_store(self, store_id: str) -> Store | None:
        return await _in_thread(self._get_store, store_id)

    async def update_store(self, store: Store) -> bool:
        return await _in_thread(self._update_store, store)

    async def add_key(self, key: WriteKey) -> None:
        await _in_thread(self._add_key, key)

    async def key_by_hash(self, key_hash: str) -> WriteKey | None:
        return await _in_thread(self._one_key, WriteKeyRow.key_hash == key_hash)

    async def keys_of(self, store_id: str) -> list[WriteKey]:
        return await _in_thread(self._keys_of, store_id)

    async def revoke_key(self, key_id: str, at: datetime) -> WriteKey | None:
        return await _in_thread(self._revoke_key, key_id, at)

    def _add_store(self, store: Store, first_key: WriteKey) -> None:
        try:
            with Session(self._engine) as session:
                session.add(_store_row(store))
                session.flush()  # the store row first: the key's foreign key needs it
                session.add(_key_row(first_key))
                session.commit()
        except IntegrityError:
            if self._get_store(store.id) is not None:
                raise StoreExists(store.id) from None
            raise KeyExists() from None

    def _get_store(self, store_id: str) -> Store | None:
        with Session(self._engine) as session:
            row = session.get(StoreRow, store_id)
            return _store(row) if row else None

    def _update_store(self, store: Store) -> bool:
        with Session(self._engine) as session:
            row = session.get(StoreRow, store.id)
            if row is None:
                return False
            row.name = store.name
            row.shopify_secret = store.shopify_secret
            row.rate_limit_per_s = store.rate_limit_per_s
            session.add(row)
            session.commit()
            return True

    def _add_key(self, key: WriteKey) -> None:
        try:
            with Session(self._engine) as session:
                session.add(_key_row(key))
                session.commit()
        except IntegrityError:
            raise KeyExists() from None

    def _one_key(self, condition) -> WriteKey | None:
        with Session(self._engine) as session:
            row = session.scalars(select(WriteKeyRow).where(condition)).first()
            return _key(row) if row else None

    def _keys_of(self, store_id: str) -> list[WriteKey]:
        with Session(self._engine) as session:
            query = (
                select(WriteKeyRow).where(WriteKeyRow.store_id == store_id).order_by(WriteKeyRow.created_at)
            )
            return [_key(row) for row in session.scalars(query)]

    def _revoke_key(self, key_id: str, at: datetime) -> WriteKey | None:
        with Session(self._engine) as session:
            row = session.get(WriteKeyRow, key_id)
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = utc(at)
                session.add(row)
                session.commit()
                session.refresh(row)
            return _key(row)


class Dialect:
    """What the hand-written statements differ in between SQLite and PostgreSQL: the parameter
    mark, and how a time is passed (SQLite keeps SQLAlchemy's text form, which sorts as time)."""

    def __init__(self, engine: Engine) -> None:
        self.mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        column = DateTime(timezone=True).dialect_impl(engine.dialect)
        self._time: Callable[[datetime], Any] = column.bind_processor(engine.dialect) or (lambda t: t)

    def sql(self, statement: str) -> str:
        """Statements are written with `?` (none of them has a literal question mark)."""
        return statement if self.mark == "?" else statement.replace("?", self.mark)

    def marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    def time(self, value: datetime) -> Any:
        return self._time(utc(value))


class SqlSeenMessages:
    def __init__(self, engine: Engine, worker: SqlWorker | None = None) -> None:
        self._engine = engine
        self._worker = worker or SqlWorker(engine)
        self._dialect = Dialect(engine)
        # An upsert: the id may be there from outside the window, or from a racing replica.
        self._upsert = self._dialect.sql(
            "INSERT INTO ingest_seen_messages (store_id, message_id, seen_at) VALUES (?, ?, ?) "
            "ON CONFLICT (store_id, message_id) DO UPDATE SET seen_at = excluded.seen_at"
        )

    async def seen_since(self, store_id: str, message_ids: Iterable[str], since: datetime) -> set[str]:
        ids = list(dict.fromkeys(message_ids))
        if not ids:
            return set()
        return await self._worker.run(partial(self._seen_since, store_id, ids, since))

    async def remember(self, store_id: str, message_ids: Iterable[str], at: datetime) -> None:
        ids = list(dict.fromkeys(message_ids))
        if ids:
            await self._worker.run(partial(self._remember, store_id, ids, at))

    async def forget_before(self, before: datetime) -> int:
        return await _in_thread(self._forget_before, before)

    def _seen_since(self, store_id: str, ids: list[str], since: datetime, cursor: Cursor) -> set[str]:
        seen: set[str] = set()
        for chunk in _chunks(ids):
            statement = self._dialect.sql(
                "SELECT message_id FROM ingest_seen_messages WHERE store_id = ? AND seen_at >= ? "
                f"AND message_id IN ({self._dialect.marks(len(chunk))})"
            )
            cursor.execute(statement, (store_id, self._dialect.time(since), *chunk))
            seen.update(row[0] for row in cursor.fetchall())
        return seen

    def _remember(self, store_id: str, ids: list[str], at: datetime, cursor: Cursor) -> None:
        when = self._dialect.time(at)
        cursor.executemany(self._upsert, [(store_id, i, when) for i in ids])

    def _forget_before(self, before: datetime) -> int:
        return _purge(
            self._engine, self._dialect, "ingest_seen_messages", "store_id, message_id", "seen_at", before
        )


def _store_row(store: Store) -> StoreRow:
    return StoreRow(
        id=store.id,
        name=store.name,
        created_at=utc(store.created_at),
        shopify_secret=store.shopify_secret,
        rate_limit_per_s=store.rate_limit_per_s,
    )


def _store(row: StoreRow) -> Store:
    return Store(row.id, row.name, utc(row.created_at), row.shopify_secret, row.rate_limit_per_s)


def _key_row(key: WriteKey) -> WriteKeyRow:
    return WriteKeyRow(
        id=key.id,
        store_id=key.store_id,
        key_hash=key.key_hash,
        prefix=key.prefix,
        created_at=utc(key.created_at),
        revoked_at=utc(key.revoked_at) if key.revoked_at else None,
    )


def _key(row: WriteKeyRow) -> WriteKey:
    return WriteKey(
        id=row.id,
        store_id=row.store_id,
        key_hash=row.key_hash,
        prefix=row.prefix,
        created_at=utc(row.created_at),
        revoked_at=utc(row.revoked_at) if row.revoked_at else None,
    )


def _purge(engine: Engine, dialect: Dialect, table: str, key: str, time_column: str, before: datetime) -> int:
    """Delete the rows older than `before` a few at a time, each few in its own short transaction
    with a pause after it: on SQLite the request path writes on the event loop (see SqlWorker),
    which must never wait long for the write lock. Returns how many rows went."""
    statement = dialect.sql(
        f"DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} WHERE {time_column} < ? LIMIT ?)"
    )
    gone = 0
    while True:
        with engine.begin() as conn:
            deleted = conn.exec_driver_sql(statement, (dialect.time(before), _PURGE_CHUNK)).rowcount
        gone += deleted
        if deleted < _PURGE_CHUNK:
            return gone
        time.sleep(_PURGE_PAUSE_S)


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


class SqlIdentityRepository:
    """Identity links and the anonymous events kept to re-publish (`IdentityRepository`)."""

    def __init__(self, engine: Engine, worker: SqlWorker | None = None) -> None:
        self._engine = engine
        self._worker = worker or SqlWorker(engine)
        self._dialect = Dialect(engine)
        sql = self._dialect.sql
        # An id a racing request linked first keeps its link: the first one wins.
        self._insert_links = sql(
            "INSERT INTO ingest_identity_links (store_id, previous_id, customer_id, linked_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (store_id, previous_id) DO NOTHING"
        )
        self._insert_kept = sql(
            "INSERT INTO ingest_anonymous_events (store_id, envelope_id, customer_id, envelope, received_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (store_id, envelope_id) DO NOTHING"
        )

    async def linked(self, store_id: str, previous_ids: Iterable[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(previous_ids))
        if not ids:
            return {}
        return await self._worker.run(partial(self._linked, store_id, ids))

    async def link(self, store_id: str, links: Iterable[Link], at: datetime) -> None:
        links = list(links)
        if links:
            await self._worker.run(partial(self._link, store_id, links, at))

    async def keep(self, store_id: str, envelopes: Iterable[Envelope], at: datetime) -> None:
        rows = [(store_id, e.id, e.customer_id, e.model_dump_json()) for e in envelopes]
        if rows:
            await self._worker.run(partial(self._keep, rows, at))

    async def kept(self, store_id: str, customer_ids: Iterable[str], limit: int) -> list[Envelope]:
        ids = list(dict.fromkeys(customer_ids))
        if not ids:
            return []
        raw = await self._worker.run(partial(self._kept, store_id, ids, limit))
        kept = [Envelope.model_validate_json(envelope) for envelope in raw]
        return sorted(kept, key=lambda e: (e.time, e.id))  # in the order they happened

    async def forget_kept_before(self, before: datetime) -> int:
        return await _in_thread(self._forget_kept_before, before)

    async def forget_customer(self, store_id: str, customer_id: str) -> int:
        return await _in_thread(self._forget_customer, store_id, customer_id)

    def _linked(self, store_id: str, previous_ids: list[str], cursor: Cursor) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(previous_ids):
            statement = self._dialect.sql(
                "SELECT previous_id, customer_id FROM ingest_identity_links "
                f"WHERE store_id = ? AND previous_id IN ({self._dialect.marks(len(chunk))})"
            )
            cursor.execute(statement, (store_id, *chunk))
            found.update((row[0], row[1]) for row in cursor.fetchall())
        return found

    def _link(self, store_id: str, links: list[Link], at: datetime, cursor: Cursor) -> None:
        when = self._dialect.time(at)
        rows = [(store_id, x.previous_id, x.customer_id, when) for x in links]
        cursor.executemany(self._insert_links, rows)
        for chunk in _chunks(list(dict.fromkeys(x.previous_id for x in links))):
            statement = self._dialect.sql(
                "DELETE FROM ingest_anonymous_events "
                f"WHERE store_id = ? AND customer_id IN ({self._dialect.marks(len(chunk))})"
            )
            cursor.execute(statement, (store_id, *chunk))

    def _keep(self, rows: list[tuple[str, str, str, str]], at: datetime, cursor: Cursor) -> None:
        when = self._dialect.time(at)
        cursor.executemany(self._insert_kept, [(*row, when) for row in rows])

    def _kept(self, store_id: str, customer_ids: list[str], limit: int, cursor: Cursor) -> list[str]:
        kept: list[str] = []
        for chunk in _chunks(customer_ids):
            statement = self._dialect.sql(
                "SELECT envelope FROM ("
                " SELECT envelope, row_number() OVER ("
                "  PARTITION BY customer_id ORDER BY received_at DESC, envelope_id DESC) AS newest"
                " FROM ingest_anonymous_events"
                f" WHERE store_id = ? AND customer_id IN ({self._dialect.marks(len(chunk))})"
                ") AS ranked WHERE newest <= ?"
            )
            cursor.execute(statement, (store_id, *chunk, limit))
            kept += [row[0] for row in cursor.fetchall()]
        return kept

    def _forget_kept_before(self, before: datetime) -> int:
        return _purge(
            self._engine, self._dialect, "ingest_anonymous_events", "store_id, envelope_id", "received_at",
            before,
        )

    def _forget_customer(self, store_id: str, customer_id: str) -> int:
        with Session(self._engine) as session:
            earlier = list(
                session.scalars(
                    select(IdentityLinkRow.previous_id).where(
                        IdentityLinkRow.store_id == store_id, IdentityLinkRow.customer_id == customer_id
                    )
                )
            )
            forgotten = 0
            for chunk in _chunks([customer_id, *earlier]):
                result = session.execute(
                    delete(AnonymousEventRow).where(
                        AnonymousEventRow.store_id == store_id, AnonymousEventRow.customer_id.in_(chunk)
                    )
                )
                forgotten += result.rowcount or 0
            result = session.execute(
                delete(IdentityLinkRow).where(
                    IdentityLinkRow.store_id == store_id,
                    or_(
                        IdentityLinkRow.customer_id == customer_id, IdentityLinkRow.previous_id == customer_id
                    ),
                )
            )
            session.commit()
            return forgotten + (result.rowcount or 0)

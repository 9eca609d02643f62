"""SQL for stores, keys and seen message ids (SQLite or PostgreSQL). All of ingest's SQL lives here.

The engine is synchronous; the async methods run it in a worker thread so the event loop
keeps serving while the database answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlmodel import Session

from boomerang.ingest.adapters.tables import SeenMessageRow, StoreRow, WriteKeyRow, utc
from boomerang.ingest.adapters.tables import AnonymousEventRow, IdentityLinkRow
from boomerang.ingest.domain.identity import Link
from boomerang.ingest.domain.stores import Store, WriteKey
from boomerang.ingest.service_layer.ports import DatabaseUnavailable, KeyExists, StoreExists
from boomerang.shared.events import Envelope

_CHUNK = 500  # ids per IN (...) / VALUES list, well under every driver's parameter limit
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


class SqlSeenMessages:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def seen_since(self, store_id: str, message_ids: Iterable[str], since: datetime) -> set[str]:
        return await _in_thread(self._seen_since, store_id, list(message_ids), since)

    async def remember(self, store_id: str, message_ids: Iterable[str], at: datetime) -> None:
        await _in_thread(self._remember, store_id, list(dict.fromkeys(message_ids)), at)

    async def forget_before(self, before: datetime) -> int:
        return await _in_thread(self._forget_before, before)

    def _seen_since(self, store_id: str, ids: list[str], since: datetime) -> set[str]:
        seen: set[str] = set()
        with Session(self._engine) as session:
            for chunk in _chunks(ids):
                query = select(SeenMessageRow.message_id).where(
                    SeenMessageRow.store_id == store_id,
                    SeenMessageRow.message_id.in_(chunk),
                    SeenMessageRow.seen_at >= utc(since),
                )
                seen.update(session.scalars(query))
        return seen

    def _remember(self, store_id: str, ids: list[str], at: datetime) -> None:
        # An upsert: the id may be there from outside the window, or from a racing replica.
        insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        with Session(self._engine) as session:
            for chunk in _chunks(ids):
                rows = [{"store_id": store_id, "message_id": i, "seen_at": utc(at)} for i in chunk]
                statement = insert(SeenMessageRow).values(rows)
                statement = statement.on_conflict_do_update(
                    index_elements=["store_id", "message_id"], set_={"seen_at": statement.excluded.seen_at}
                )
                session.execute(statement)
            session.commit()

    def _forget_before(self, before: datetime) -> int:
        with Session(self._engine) as session:
            result = session.execute(delete(SeenMessageRow).where(SeenMessageRow.seen_at < utc(before)))
            session.commit()
            return result.rowcount or 0


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


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


class SqlIdentityRepository:
    """Identity links and the anonymous events kept to re-publish (`IdentityRepository`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def linked(self, store_id: str, previous_ids: Iterable[str]) -> dict[str, str]:
        return await _in_thread(self._linked, store_id, list(dict.fromkeys(previous_ids)))

    async def link(self, store_id: str, links: Iterable[Link], at: datetime) -> None:
        await _in_thread(self._link, store_id, list(links), at)

    async def keep(self, store_id: str, envelopes: Iterable[Envelope], at: datetime) -> None:
        await _in_thread(self._keep, store_id, list(envelopes), at)

    async def kept(self, store_id: str, customer_ids: Iterable[str], limit: int) -> list[Envelope]:
        return await _in_thread(self._kept, store_id, list(dict.fromkeys(customer_ids)), limit)

    async def forget_kept_before(self, before: datetime) -> int:
        return await _in_thread(self._forget_kept_before, before)

    async def forget_customer(self, store_id: str, customer_id: str) -> int:
        return await _in_thread(self._forget_customer, store_id, customer_id)

    def _insert(self):
        return postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert

    def _linked(self, store_id: str, previous_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with Session(self._engine) as session:
            for chunk in _chunks(previous_ids):
                query = select(IdentityLinkRow.previous_id, IdentityLinkRow.customer_id).where(
                    IdentityLinkRow.store_id == store_id, IdentityLinkRow.previous_id.in_(chunk)
                )
                found.update((row.previous_id, row.customer_id) for row in session.execute(query))
        return found

    def _link(self, store_id: str, links: list[Link], at: datetime) -> None:
        rows = [
            {
                "store_id": store_id,
                "previous_id": x.previous_id,
                "customer_id": x.customer_id,
                "linked_at": utc(at),
            }
            for x in links
        ]
        with Session(self._engine) as session:
            for start in range(0, len(rows), _CHUNK):
                # An id a racing request linked first keeps its link: the first one wins.
                statement = self._insert()(IdentityLinkRow).values(rows[start : start + _CHUNK])
                session.execute(statement.on_conflict_do_nothing(index_elements=["store_id", "previous_id"]))
            for chunk in _chunks([x.previous_id for x in links]):
                session.execute(
                    delete(AnonymousEventRow).where(
                        AnonymousEventRow.store_id == store_id, AnonymousEventRow.customer_id.in_(chunk)
                    )
                )
            session.commit()

    def _keep(self, store_id: str, envelopes: list[Envelope], at: datetime) -> None:
        rows = [
            {
                "store_id": store_id,
                "envelope_id": e.id,
                "customer_id": e.customer_id,
                "envelope": e.model_dump_json(),
                "received_at": utc(at),
            }
            for e in envelopes
        ]
        with Session(self._engine) as session:
            for start in range(0, len(rows), _CHUNK):
                statement = self._insert()(AnonymousEventRow).values(rows[start : start + _CHUNK])
                session.execute(statement.on_conflict_do_nothing(index_elements=["store_id", "envelope_id"]))
            session.commit()

    def _kept(self, store_id: str, customer_ids: list[str], limit: int) -> list[Envelope]:
        kept: list[Envelope] = []
        with Session(self._engine) as session:
            for chunk in _chunks(customer_ids):
                newest = func.row_number().over(
                    partition_by=AnonymousEventRow.customer_id,
                    order_by=(AnonymousEventRow.received_at.desc(), AnonymousEventRow.envelope_id.desc()),
                )
                ranked = (
                    select(AnonymousEventRow.envelope, newest.label("rank"))
                    .where(AnonymousEventRow.store_id == store_id, AnonymousEventRow.customer_id.in_(chunk))
                    .subquery()
                )
                query = select(ranked.c.envelope).where(ranked.c.rank <= limit)
                kept += [Envelope.model_validate_json(raw) for raw in session.scalars(query)]
        return sorted(kept, key=lambda e: (e.time, e.id))  # in the order they happened

    def _forget_kept_before(self, before: datetime) -> int:
        with Session(self._engine) as session:
            result = session.execute(
                delete(AnonymousEventRow).where(AnonymousEventRow.received_at < utc(before))
            )
            session.commit()
            return result.rowcount or 0

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

"""The provider event store (the outbox): one row per provider event, unique on its provider id;
and who we last texted at each number, to attribute inbound SMS."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Text, UniqueConstraint, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from boomerang.feedback.domain.model import ProviderEvent, StoredEvent
from boomerang.feedback.domain.sms import Recipient
from boomerang.feedback.service_layer.ports import Backlog


class ProviderEventRow(SQLModel, table=True):
    __tablename__ = "feedback_provider_events"
    __table_args__ = (UniqueConstraint("provider", "provider_event_id", name="uq_feedback_provider_event"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    provider_event_id: str = Field(max_length=255)
    kind: str = Field(max_length=64)
    raw: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    published_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True, index=True)
    )


class SmsRecipientRow(SQLModel, table=True):
    """The latest outbound SMS per (customer number, our number), from status callbacks."""

    __tablename__ = "feedback_sms_recipients"

    number_pair: str = Field(primary_key=True, max_length=64)  # sha256 hex, see domain/sms.py
    store_id: str = Field(max_length=64)
    customer_id: str = Field(max_length=256)
    message_id: str | None = Field(default=None, max_length=255)
    seen_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


TABLES = [ProviderEventRow.__table__, SmsRecipientRow.__table__]
_t = ProviderEventRow.__table__
_r = SmsRecipientRow.__table__


class SqlProviderEventStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def add_new(self, events: Sequence[ProviderEvent]) -> list[StoredEvent]:
        stored: list[StoredEvent] = []
        with self._engine.begin() as conn:
            for event in events:
                # ON CONFLICT DO NOTHING: a concurrent retry of the same batch cannot fail us.
                statement = (
                    self._insert(_t)
                    .values(
                        provider=event.provider,
                        provider_event_id=event.provider_event_id,
                        kind=event.kind,
                        raw=json.dumps(event.raw, separators=(",", ":"), ensure_ascii=False),
                        received_at=event.received_at,
                    )
                    .on_conflict_do_nothing(index_elements=["provider", "provider_event_id"])
                    .returning(_t.c.id)
                )
                row_id = conn.execute(statement).scalar_one_or_none()
                if row_id is not None:
                    stored.append(StoredEvent(row_id, event))
        return stored

    def unpublished(self, limit: int, among: Collection[int] | None = None) -> list[StoredEvent]:
        query = select(_t).where(_t.c.published_at.is_(None)).order_by(_t.c.id).limit(limit)
        if among is not None:
            query = query.where(_t.c.id.in_(list(among)))
        with self._engine.connect() as conn:
            return [_stored(row) for row in conn.execute(query)]

    def mark_published(self, ids: Collection[int], at: datetime) -> None:
        if not ids:
            return
        with self._engine.begin() as conn:
            conn.execute(
                update(_t).where(_t.c.id.in_(list(ids)), _t.c.published_at.is_(None)).values(published_at=at)
            )

    def backlog(self) -> Backlog:
        query = select(func.count(), func.min(_t.c.received_at)).where(_t.c.published_at.is_(None))
        with self._engine.connect() as conn:
            count, oldest = conn.execute(query).one()
        return Backlog(count, _aware(oldest))

    def find(self, provider: str, provider_event_id: str) -> StoredEvent | None:
        query = select(_t).where(_t.c.provider == provider, _t.c.provider_event_id == provider_event_id)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _stored(row) if row else None

    def remember_recipient(self, number_pair: str, recipient: Recipient, seen_at: datetime) -> None:
        """Upsert; an older callback arriving late does not overwrite a newer one."""
        values = {**recipient.__dict__, "number_pair": number_pair, "seen_at": seen_at}
        statement = self._insert(_r).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["number_pair"],
            set_={name: statement.excluded[name] for name in values if name != "number_pair"},
            where=_r.c.seen_at <= statement.excluded.seen_at,
        )
        with self._engine.begin() as conn:
            conn.execute(statement)

    def recipient(self, number_pair: str) -> Recipient | None:
        query = select(_r.c.store_id, _r.c.customer_id, _r.c.message_id).where(_r.c.number_pair == number_pair)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return Recipient(row.store_id, row.customer_id, row.message_id) if row else None

    def count(self) -> int:
        with self._engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(_t)).scalar_one()


def _stored(row) -> StoredEvent:
    event = ProviderEvent(
        row.provider, row.provider_event_id, row.kind, json.loads(row.raw), _aware(row.received_at)
    )
    return StoredEvent(row.id, event, _aware(row.published_at))


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we write is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)

"""Ingest's own tables. Prefixed, because every service shares SQLModel's metadata in-process."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


def _utc_column(*, nullable: bool = False, index: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


class StoreRow(SQLModel, table=True):
    __tablename__ = "ingest_stores"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=_utc_column())


class WriteKeyRow(SQLModel, table=True):
    __tablename__ = "ingest_write_keys"

    id: str = Field(primary_key=True, max_length=40)
    store_id: str = Field(foreign_key="ingest_stores.id", index=True, max_length=64)
    key_hash: str = Field(unique=True, max_length=64)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(sa_column=_utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class SeenMessageRow(SQLModel, table=True):
    """A message id a store had published, and when: the de-duplication window."""

    __tablename__ = "ingest_seen_messages"

    store_id: str = Field(primary_key=True, max_length=64)
    message_id: str = Field(primary_key=True, max_length=128)
    seen_at: datetime = Field(sa_column=_utc_column(index=True))


TABLES = [StoreRow.__table__, WriteKeyRow.__table__, SeenMessageRow.__table__]


def utc(value: datetime) -> datetime:
    """SQLite keeps no offset: store UTC, and read naive values back as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)

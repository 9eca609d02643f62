"""Ingest's own tables. Prefixed, because every service shares SQLModel's metadata in-process."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel


def _utc_column(*, nullable: bool = False, index: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


class StoreRow(SQLModel, table=True):
    __tablename__ = "ingest_stores"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=_utc_column())
    shopify_secret: str | None = Field(default=None, max_length=200)
    rate_limit_per_s: float | None = Field(default=None)


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


class IdentityLinkRow(SQLModel, table=True):
    """`previous_id` (`anon:<anonymousId>` or an older userId) is `customer_id` from now on."""

    __tablename__ = "ingest_identity_links"

    store_id: str = Field(primary_key=True, max_length=64)
    previous_id: str = Field(primary_key=True, max_length=256)
    customer_id: str = Field(index=True, max_length=256)
    linked_at: datetime = Field(sa_column=_utc_column())


class AnonymousEventRow(SQLModel, table=True):
    """An event published for a not-yet-known customer, kept to re-publish once they are linked."""

    __tablename__ = "ingest_anonymous_events"
    __table_args__ = (Index("ix_ingest_anonymous_events_customer", "store_id", "customer_id"),)

    store_id: str = Field(primary_key=True, max_length=64)
    envelope_id: str = Field(primary_key=True, max_length=128)
    customer_id: str = Field(max_length=256)
    envelope: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(sa_column=_utc_column(index=True))


class ShopifyOrderRow(SQLModel, table=True):
    """Whose a Shopify order is: refunds/create names only the order, and must reach its buyer."""

    __tablename__ = "ingest_shopify_orders"

    store_id: str = Field(primary_key=True, max_length=64)
    order_id: str = Field(primary_key=True, max_length=200)
    customer_id: str = Field(max_length=256)
    seen_at: datetime = Field(sa_column=_utc_column())


TABLES = [
    StoreRow.__table__,
    WriteKeyRow.__table__,
    SeenMessageRow.__table__,
    IdentityLinkRow.__table__,
    AnonymousEventRow.__table__,
    ShopifyOrderRow.__table__,
]


def utc(value: datetime) -> datetime:
    """SQLite keeps no offset: store UTC, and read naive values back as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)

"""What the messenger knows of customers' segments, and the operators' broadcasts.

`messenger_segment_members` keeps each customer's latest segment per dimension (lifecycle,
value) from `customer.segments.v1`, with their orders and spend at that change: the audience
of a broadcast, and every segment a segment flow's audience can test. `messenger_campaigns`
keeps each broadcast's content once; its ledger steps name it by campaign id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Index, Numeric, Text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from boomerang.messenger.domain.audience import CustomerFacts
from boomerang.messenger.domain.broadcasts import Broadcast, Member
from boomerang.messenger.domain.content import Campaign

_PAGE = 1000  # members read per query: a segment of a million is never in memory at once


def _moment(**kw: Any) -> Any:
    return Field(sa_type=DateTime(timezone=True), **kw)


class SegmentMemberRow(SQLModel, table=True):
    __tablename__ = "messenger_segment_members"
    __table_args__ = (Index("ix_messenger_segment_members_segment", "store_id", "segment", "customer_id"),)

    store_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(primary_key=True, max_length=256)
    dimension: str = Field(primary_key=True, max_length=16)
    segment: str = Field(max_length=32)
    changed_at: datetime = _moment()
    orders: int = 0
    net_revenue: Decimal = Field(default=Decimal(0), sa_type=Numeric(14, 2))


class CampaignRow(SQLModel, table=True):
    __tablename__ = "messenger_campaigns"

    store_id: str = Field(primary_key=True, max_length=64)
    campaign_id: str = Field(primary_key=True, max_length=128)
    flow: str = Field(max_length=64)
    content: str = Field(sa_type=Text)  # the Campaign, JSON
    segments_any: str | None = Field(default=None, sa_type=Text)  # JSON list; None: the flow's
    segments_none: str | None = Field(default=None, sa_type=Text)
    send_at: datetime = _moment()
    created_at: datetime = _moment()


SEGMENT_TABLES = [SegmentMemberRow.__table__, CampaignRow.__table__]


class SqlSegmentMembers:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(
        self,
        store_id: str,
        customer_id: str,
        dimension: str,
        segment: str,
        changed_at: datetime,
        orders: int,
        net_revenue: Decimal,
    ) -> None:
        """Keep the change unless a later one of the same dimension is there (a late replay)."""
        values = {"segment": segment, "changed_at": changed_at, "orders": orders, "net_revenue": net_revenue}
        try:
            with Session(self._engine) as session:
                session.add(SegmentMemberRow(store_id=store_id, customer_id=customer_id, dimension=dimension, **values))
                session.commit()
            return
        except IntegrityError:
            pass
        statement = (
            update(SegmentMemberRow)
            .where(
                SegmentMemberRow.store_id == store_id,
                SegmentMemberRow.customer_id == customer_id,
                SegmentMemberRow.dimension == dimension,
                SegmentMemberRow.changed_at <= changed_at,
            )
            .values(**values)
        )
        with self._engine.begin() as conn:
            conn.execute(statement)

    def facts_of(self, store_id: str, customer_id: str) -> CustomerFacts | None:
        statement = select(SegmentMemberRow).where(
            SegmentMemberRow.store_id == store_id, SegmentMemberRow.customer_id == customer_id
        )
        with Session(self._engine) as session:
            rows = list(session.exec(statement))
        return _facts(rows) if rows else None

    def members(self, store_id: str, segments: Sequence[str]) -> Iterator[Member]:
        """Every customer now in one of `segments`, with all their segments, by customer id."""
        after = ""
        while True:
            ids = self._page_of_ids(store_id, segments, after)
            if not ids:
                return
            statement = (
                select(SegmentMemberRow)
                .where(SegmentMemberRow.store_id == store_id, SegmentMemberRow.customer_id.in_(ids))  # type: ignore[attr-defined]
                .order_by(SegmentMemberRow.customer_id)
            )
            with Session(self._engine) as session:
                rows = list(session.exec(statement))
            by_customer: dict[str, list[SegmentMemberRow]] = {}
            for row in rows:
                by_customer.setdefault(row.customer_id, []).append(row)
            for customer_id in ids:
                yield Member(customer_id, _facts(by_customer[customer_id]))
            after = ids[-1]

    def _page_of_ids(self, store_id: str, segments: Sequence[str], after: str) -> list[str]:
        statement = (
            select(SegmentMemberRow.customer_id)
            .where(
                SegmentMemberRow.store_id == store_id,
                SegmentMemberRow.segment.in_(segments),  # type: ignore[attr-defined]
                SegmentMemberRow.customer_id > after,
            )
            .distinct()
            .order_by(SegmentMemberRow.customer_id)
            .limit(_PAGE)
        )
        with Session(self._engine) as session:
            return list(session.exec(statement))


class SqlCampaigns:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, broadcast: Broadcast, now: datetime) -> Broadcast:
        """Store the broadcast; if its campaign id is taken, the stored one (it is not changed)."""
        row = CampaignRow(
            store_id=broadcast.store_id,
            campaign_id=broadcast.campaign_id,
            flow=broadcast.flow,
            content=broadcast.campaign.model_dump_json(),
            segments_any=_json(broadcast.segments_any),
            segments_none=_json(broadcast.segments_none),
            send_at=broadcast.send_at,
            created_at=now,
        )
        try:
            with Session(self._engine) as session:
                session.add(row)
                session.commit()
            return broadcast
        except IntegrityError:
            stored = self.get(broadcast.store_id, broadcast.campaign_id)
            assert stored is not None
            return stored

    def get(self, store_id: str, campaign_id: str) -> Broadcast | None:
        with Session(self._engine) as session:
            row = session.get(CampaignRow, (store_id, campaign_id))
        if row is None:
            return None
        return Broadcast(
            store_id=row.store_id,
            campaign_id=row.campaign_id,
            flow=row.flow,
            campaign=Campaign.model_validate_json(row.content),
            send_at=row.send_at if row.send_at.tzinfo else row.send_at.replace(tzinfo=UTC),
            segments_any=_tuple(row.segments_any),
            segments_none=_tuple(row.segments_none),
        )


def _facts(rows: Sequence[SegmentMemberRow]) -> CustomerFacts:
    latest = max(rows, key=lambda row: row.changed_at)  # the newest change has the newest counts
    return CustomerFacts(
        segments=frozenset(row.segment for row in rows),
        orders=latest.orders,
        net_revenue=Decimal(latest.net_revenue),
    )


def _json(values: tuple[str, ...] | None) -> str | None:
    return None if values is None else json.dumps(list(values))


def _tuple(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(json.loads(text))

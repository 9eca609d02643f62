"""The segmenter's snapshot store (SQLite or PostgreSQL): each customer's latest profile, segments
and scores, and every published transition. The worker writes it (batched, see
service_layer.snapshots); the query API reads it. All SQL of the segmenter lives here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Index, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Column, Field, Session, SQLModel, select

from boomerang.segmenter.domain.snapshots import CustomerSnapshot, TransitionRecord

SCORE_COLUMNS = ("recency_score", "frequency_score", "monetary_score", "historic_clv", "p_alive",
                 "lapse_score", "predicted_clv_365d", "clv_percentile")


def _moment(**kw: Any) -> Any:
    return Field(sa_type=DateTime(timezone=True), **kw)


class CustomerRow(SQLModel, table=True):
    __tablename__ = "segmenter_customers"
    __table_args__ = (
        Index("ix_segmenter_customers_store_lifecycle", "store_id", "lifecycle"),
        Index("ix_segmenter_customers_store_value_tier", "store_id", "value_tier"),
    )

    store_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(primary_key=True, max_length=256)
    lifecycle: str | None = Field(default=None, max_length=16)
    value_tier: str = Field(max_length=16)
    profile: dict = Field(sa_column=Column(JSON, nullable=False))
    scores: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    model_id: str | None = Field(default=None, max_length=128)
    recency_score: int | None = None
    frequency_score: int | None = None
    monetary_score: int | None = None
    historic_clv: float | None = None
    p_alive: float | None = None
    lapse_score: float | None = None
    predicted_clv_365d: float | None = None
    clv_percentile: float | None = None
    evaluated_at: datetime | None = _moment(default=None)
    updated_at: datetime = _moment()


class TransitionRow(SQLModel, table=True):
    __tablename__ = "segmenter_transitions"
    __table_args__ = (
        Index("ix_segmenter_transitions_store_changed_at", "store_id", "changed_at"),
        Index("ix_segmenter_transitions_customer", "store_id", "customer_id", "changed_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    store_id: str = Field(max_length=64)
    customer_id: str = Field(max_length=256)
    dimension: str = Field(max_length=16)
    from_segment: str | None = Field(default=None, max_length=16)
    to_segment: str = Field(max_length=16)
    reason: str = Field(max_length=64)
    detail: str | None = None
    changed_at: datetime = _moment()


TABLES = [CustomerRow.__table__, TransitionRow.__table__]


@dataclass(frozen=True)
class CustomerView:
    snapshot: CustomerSnapshot
    transitions: list[TransitionRecord]


class SqlSnapshots:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- writes (the worker's flusher thread) ----------------------------------------------------

    def write(self, customers: Sequence[CustomerSnapshot], transitions: Sequence[TransitionRecord]) -> None:
        """One transaction: upsert the customers, insert the transitions not stored yet (by id)."""
        if not customers and not transitions:
            return
        insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        with self._engine.begin() as conn:
            if customers:
                rows = [_customer_row(c) for c in customers]
                statement = insert(CustomerRow.__table__)
                updated = {k: statement.excluded[k] for k in rows[0] if k not in ("store_id", "customer_id")}
                conn.execute(
                    statement.on_conflict_do_update(index_elements=["store_id", "customer_id"], set_=updated), rows
                )
            if transitions:
                rows = [
                    {**t.__dict__, "changed_at": _utc(t.changed_at)}
                    for t in {t.id: t for t in transitions}.values()
                ]
                conn.execute(insert(TransitionRow.__table__).on_conflict_do_nothing(index_elements=["id"]), rows)

    # -- reads (the query API) -------------------------------------------------------------------

    def customer(self, store_id: str, customer_id: str, history: int = 100) -> CustomerView | None:
        with Session(self._engine) as session:
            row = session.get(CustomerRow, (store_id, customer_id))
            if row is None:
                return None
            moves = session.exec(
                select(TransitionRow)
                .where(TransitionRow.store_id == store_id, TransitionRow.customer_id == customer_id)
                .order_by(TransitionRow.changed_at.desc(), TransitionRow.id)
                .limit(history)
            ).all()
            return CustomerView(_snapshot(row), [_transition(t) for t in moves])

    def sizes(self, store_id: str) -> tuple[dict[str, int], dict[str, int]]:
        """(customers per lifecycle stage, customers per value tier); a customer with no stage yet
        counts under "none"."""
        with Session(self._engine) as session:
            stages = session.exec(
                select(CustomerRow.lifecycle, func.count())
                .where(CustomerRow.store_id == store_id)
                .group_by(CustomerRow.lifecycle)
            ).all()
            tiers = session.exec(
                select(CustomerRow.value_tier, func.count())
                .where(CustomerRow.store_id == store_id)
                .group_by(CustomerRow.value_tier)
            ).all()
        return {(s or "none"): n for s, n in stages}, {t: n for t, n in tiers}

    def moves(self, store_id: str, since: datetime, until: datetime) -> list[tuple[str | None, str]]:
        """(from, to) of every transition that took effect in (since, until]."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(TransitionRow.from_segment, TransitionRow.to_segment).where(
                    TransitionRow.store_id == store_id,
                    TransitionRow.changed_at > _utc(since),
                    TransitionRow.changed_at <= _utc(until),
                )
            ).all()
        return [(f, t) for f, t in rows]

    def score_columns(self, store_id: str) -> dict[str, list[float]]:
        """Every scored customer's value of each of SCORE_COLUMNS."""
        columns = [getattr(CustomerRow, name) for name in SCORE_COLUMNS]
        with Session(self._engine) as session:
            rows = session.exec(
                select(*columns).where(CustomerRow.store_id == store_id, CustomerRow.model_id.is_not(None))
            ).all()
        return {name: [r[i] for r in rows if r[i] is not None] for i, name in enumerate(SCORE_COLUMNS)}

    def rfm_cells(self, store_id: str) -> dict[str, int]:
        """Scored customers per "RFM" cell, e.g. {"555": 12, "111": 40}."""
        r, f, m = CustomerRow.recency_score, CustomerRow.frequency_score, CustomerRow.monetary_score
        with Session(self._engine) as session:
            rows = session.exec(
                select(r, f, m, func.count())
                .where(CustomerRow.store_id == store_id, r.is_not(None), f.is_not(None), m.is_not(None))
                .group_by(r, f, m)
            ).all()
        return {f"{a}{b}{c}": n for a, b, c, n in sorted(rows)}


def _customer_row(c: CustomerSnapshot) -> dict[str, Any]:
    scores = dict(c.scores) if c.scores is not None else None
    row: dict[str, Any] = {
        "store_id": c.store_id,
        "customer_id": c.customer_id,
        "lifecycle": c.lifecycle,
        "value_tier": c.value_tier,
        "profile": dict(c.profile),
        "scores": scores,
        "model_id": scores.get("model_id") if scores else None,
        "evaluated_at": None if c.evaluated_at is None else _utc(c.evaluated_at),
        "updated_at": _utc(c.updated_at),
    }
    for name in SCORE_COLUMNS:
        value = scores.get(name) if scores else None
        row[name] = None if value is None else (int(value) if name.endswith("_score") and name[0] in "rfm" else float(value))
    return row


def _snapshot(row: CustomerRow) -> CustomerSnapshot:
    return CustomerSnapshot(
        store_id=row.store_id,
        customer_id=row.customer_id,
        lifecycle=row.lifecycle,
        value_tier=row.value_tier,
        profile=row.profile,
        scores=row.scores,
        evaluated_at=_aware(row.evaluated_at),
        updated_at=_aware(row.updated_at),
    )


def _transition(row: TransitionRow) -> TransitionRecord:
    return TransitionRecord(
        id=row.id,
        store_id=row.store_id,
        customer_id=row.customer_id,
        dimension=row.dimension,
        from_segment=row.from_segment,
        to_segment=row.to_segment,
        reason=row.reason,
        detail=row.detail,
        changed_at=_aware(row.changed_at),
    )


def _utc(at: datetime) -> datetime:
    return at.astimezone(timezone.utc) if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def _aware(at: datetime | None) -> Any:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return None if at is None else _utc(at)

"""The messenger's own store: contact cards, the send ledger and coupons (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, Index, Text, Update, bindparam, case, func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from boomerang.messenger.adapters.customer_orders import CUSTOMER_ORDER_TABLES
from boomerang.messenger.adapters.recommendations import RECOMMENDATION_TABLES
from boomerang.messenger.adapters.sql import PreparedCache, ShortIn, insert_for, loop_reads
from boomerang.messenger.adapters.segments import SEGMENT_TABLES
from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.coupons import Coupon, OfferKind, Redemption, normalize_code, redeem
from boomerang.messenger.domain.flows import Channel
from boomerang.messenger.domain.flows import Purpose
from boomerang.messenger.domain.messages import LedgerEntry, State
from boomerang.messenger.domain.suppressions import EMPTY, Block, Change, SuppressionList
from boomerang.messenger.service_layer.ports import Claim, Settlement, StatsRow


class ContactRow(SQLModel, table=True):
    __tablename__ = "messenger_contacts"

    store_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(primary_key=True, max_length=256)
    email: str | None = None
    phone: str | None = Field(default=None, max_length=16)
    email_consent: bool | None = None
    sms_consent: bool | None = None
    locale: str | None = Field(default=None, max_length=35)
    timezone: str | None = Field(default=None, max_length=64)
    first_name: str | None = None
    birthday: date | None = Field(default=None, sa_type=Date)  # 0006
    preferred_channel: str | None = Field(default=None, max_length=8)  # 0008


def _moment(**kw) -> object:
    return Field(sa_type=DateTime(timezone=True), **kw)


class LedgerRow(SQLModel, table=True):
    __tablename__ = "messenger_send_ledger"
    # A customer's history, for the frequency caps.
    __table_args__ = (Index("ix_messenger_send_ledger_customer", "store_id", "customer_id", "created_at"),)

    key: str = Field(primary_key=True, max_length=1024)
    message_id: str = Field(unique=True, max_length=36)
    store_id: str = Field(max_length=64)
    customer_id: str = Field(max_length=256)
    flow: str = Field(max_length=64)
    step: str = Field(max_length=64)
    channel: str = Field(max_length=16)
    trigger_id: str = Field(max_length=256)
    trigger_event_id: str = Field(max_length=128)
    state: str = Field(max_length=16, index=True)
    created_at: datetime = _moment()
    updated_at: datetime = _moment()
    recipient: str | None = None
    body_digest: str | None = Field(default=None, max_length=64)
    reason: str | None = None
    provider: str | None = Field(default=None, max_length=32)
    provider_message_id: str | None = None
    provider_status: int | None = None
    attempts: int = 0
    duplicate_hits: int = 0
    sent_at: datetime | None = _moment(default=None)
    published_at: datetime | None = _moment(default=None)
    purpose: str | None = Field(default=None, max_length=16)
    priority: int | None = None
    due_at: datetime | None = _moment(default=None)
    # A time-after-event step's trigger envelope (JSON), to render it when due (0005).
    trigger_data: str | None = Field(default=None, sa_type=Text)
    # A send awaiting the provider's lookup: its message as it went out (0009).
    unconfirmed_message: str | None = Field(default=None, sa_type=Text)


class SuppressionRow(SQLModel, table=True):
    """The latest change per (customer, channel, block, address); see domain.suppressions."""

    __tablename__ = "messenger_suppressions"

    store_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(primary_key=True, max_length=256)
    channel: str = Field(primary_key=True, max_length=16)
    block: str = Field(primary_key=True, max_length=32)
    # "" when the block is about the person, not one address (primary keys cannot be NULL).
    address: str = Field(primary_key=True, max_length=320)
    lift: bool
    changed_at: datetime = _moment()


class CouponRow(SQLModel, table=True):
    __tablename__ = "messenger_coupons"
    __table_args__ = (Index("ix_messenger_coupons_customer", "store_id", "customer_id"),)

    store_id: str = Field(primary_key=True, max_length=64)
    code: str = Field(primary_key=True, max_length=64)
    # One coupon per message: the message's idempotency key (see domain.messages).
    idempotency_key: str = Field(unique=True, max_length=1024)
    customer_id: str = Field(max_length=256)
    kind: str = Field(max_length=16)
    percent: int | None = None
    issued_at: datetime = _moment()
    expires_at: datetime = _moment()
    message_id: str = Field(max_length=36)
    flow: str = Field(max_length=64)
    redeemed_order_id: str | None = Field(default=None, max_length=256)
    redeemed_at: datetime | None = _moment(default=None)


TABLES = [
    ContactRow.__table__,
    LedgerRow.__table__,
    CouponRow.__table__,
    SuppressionRow.__table__,
    *RECOMMENDATION_TABLES,  # adapters/recommendations.py
    *CUSTOMER_ORDER_TABLES,  # adapters/customer_orders.py (0006)
    *SEGMENT_TABLES,  # adapters/segments.py (0007)
]

# The per-message statements, built once: SQLAlchemy keeps a statement's compiled form on the
# object, and building, caching and ORM-loading one per call cost more than SQLite's own work.
_LEDGER = LedgerRow.__table__
_CONTACTS = ContactRow.__table__
_SUPPRESSIONS = SuppressionRow.__table__
_LEDGER_GET = select(_LEDGER).where(_LEDGER.c.key == bindparam("b_key"))
# A batch's keys: as many as the consumer's batch (see `ShortIn`).
_LEDGER_GET_MANY = ShortIn(lambda keys: select(_LEDGER).where(_LEDGER.c.key.in_(keys)), "b_keys", most=512)
_LEDGER_SETTLE = (
    update(_LEDGER)
    .where(_LEDGER.c.key == bindparam("b_key"), _LEDGER.c.state == State.PENDING.value)
    .values(
        state=bindparam("b_state"),
        updated_at=bindparam("b_now"),
        provider_message_id=bindparam("b_provider_message_id"),
        reason=bindparam("b_reason"),
        provider_status=bindparam("b_provider_status"),
        sent_at=func.coalesce(bindparam("b_sent_at", type_=DateTime(timezone=True)), _LEDGER.c.sent_at),
    )
)
_LEDGER_HISTORY = select(_LEDGER).where(
    _LEDGER.c.store_id == bindparam("b_store"),
    _LEDGER.c.customer_id == bindparam("b_customer"),
    (_LEDGER.c.created_at >= bindparam("b_since")) | (_LEDGER.c.state == State.DELAYED.value),
)
_LEDGER_DELAYED_FOR = select(_LEDGER).where(
    _LEDGER.c.store_id == bindparam("b_store"),
    _LEDGER.c.customer_id == bindparam("b_customer"),
    _LEDGER.c.state == State.DELAYED.value,
)
_LEDGER_DUPLICATE = (
    update(_LEDGER).where(_LEDGER.c.key == bindparam("b_key")).values(duplicate_hits=_LEDGER.c.duplicate_hits + 1)
)
_LEDGER_PUBLISHED = (
    update(_LEDGER).where(_LEDGER.c.key == bindparam("b_key")).values(published_at=bindparam("b_now"))
)
_CONTACT_GET = select(_CONTACTS).where(
    _CONTACTS.c.store_id == bindparam("b_store"), _CONTACTS.c.customer_id == bindparam("b_customer")
)
_SUPPRESSIONS_GET = select(_SUPPRESSIONS).where(
    _SUPPRESSIONS.c.store_id == bindparam("b_store"), _SUPPRESSIONS.c.customer_id == bindparam("b_customer")
)
_ENTRY_FIELDS = tuple(f.name for f in fields(LedgerEntry))
_LEDGER_COLUMNS = tuple(column.name for column in _LEDGER.c)  # a ledger row's order
_CONTACT_COLUMNS = tuple(column.name for column in _CONTACTS.c)
_CONTACT_FIELDS = tuple(f.name for f in fields(Contact))


class SqlContacts:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reads = loop_reads(engine)  # the event loop's turn shares one read connection
        self._get = PreparedCache(engine.dialect.name)(_CONTACT_GET)

    def get(self, store_id: str, customer_id: str) -> Contact | None:
        with self._reads.connect() as conn:
            row = self._get.first(conn, {"b_store": store_id, "b_customer": customer_id})
        if row is None:
            return None
        found = dict(zip(_CONTACT_COLUMNS, row))
        return Contact(**{name: found[name] for name in _CONTACT_FIELDS})

    def save(self, contact: Contact) -> None:
        with Session(self._engine) as session:
            session.merge(ContactRow(**asdict(contact)))
            session.commit()


class SqlSendLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reads = loop_reads(engine)  # the event loop's turn shares one read connection
        dialect = engine.dialect.name
        self._prepared = prepared = PreparedCache(dialect)
        self._claim = prepared(
            insert_for(dialect)(_LEDGER).on_conflict_do_nothing().returning(_LEDGER.c.key),
            column_keys=_LEDGER_COLUMNS,
        )
        self._get = prepared(_LEDGER_GET)
        self._history = prepared(_LEDGER_HISTORY)
        self._delayed_for = prepared(_LEDGER_DELAYED_FOR)
        self._settle = prepared(_LEDGER_SETTLE)
        self._published = prepared(_LEDGER_PUBLISHED)
        self._duplicate = prepared(_LEDGER_DUPLICATE)

    def claim(self, entry: LedgerEntry) -> Claim:
        return self.claim_many([entry])[0]

    def claim_many(self, entries: Sequence[LedgerEntry]) -> list[Claim]:
        """One transaction for a batch: INSERT ... ON CONFLICT DO NOTHING per entry (RETURNING
        says which went in, so of concurrent claimers exactly one wins), then the rows already
        there for the others."""
        with self._engine.begin() as conn:
            won = [self._claim.first(conn, _to_values(entry)) is not None for entry in entries]
            lost = [entry.key for entry, ok in zip(entries, won) if not ok]
            found = {entry.key: entry for entry in self._get_many(conn, lost)}
        claims = []
        for entry, ok in zip(entries, won):
            if not ok and entry.key not in found:
                # The winner's row vanished (erasure) in between: let the caller retry.
                raise LookupError(f"ledger key {entry.key} neither inserted nor found")
            claims.append(Claim(entry, won=True) if ok else Claim(found[entry.key], won=False))
        return claims

    def get(self, key: str) -> LedgerEntry | None:
        with self._reads.connect() as conn:
            row = self._get.first(conn, {"b_key": key})
        return _entry_of(row) if row else None

    def get_many(self, keys: Sequence[str]) -> list[LedgerEntry | None]:
        with self._reads.connect() as conn:
            found = {entry.key: entry for entry in self._get_many(conn, sorted(set(keys)))}
        return [found.get(key) for key in keys]

    def _get_many(self, conn: Any, keys: Sequence[str]) -> list[LedgerEntry]:
        if not keys:
            return []
        statement, params = _LEDGER_GET_MANY(keys)
        return [_entry_of(row) for row in self._prepared(statement).all(conn, params)]

    def by_message_id(self, message_id: str) -> LedgerEntry | None:
        with Session(self._engine) as session:
            row = session.exec(select(LedgerRow).where(LedgerRow.message_id == message_id)).first()
            return _to_entry(row.model_dump()) if row else None

    def history(self, store_id: str, customer_id: str, since: datetime) -> list[LedgerEntry]:
        """The customer's entries created since `since`, and every delayed one (still ahead)."""
        with self._reads.connect() as conn:
            found = {"b_store": store_id, "b_customer": customer_id, "b_since": since}
            return [_entry_of(row) for row in self._history.all(conn, found)]

    def take_over(self, key: str, attempts_seen: int, now: datetime) -> bool:
        # Compare-and-set on the attempt counter: of two resumers, one sees its count changed.
        statement = (
            update(LedgerRow)
            .where(
                LedgerRow.key == key,
                LedgerRow.state == State.PENDING.value,
                LedgerRow.attempts == attempts_seen,
            )
            .values(attempts=LedgerRow.attempts + 1, updated_at=now)
        )
        return self._execute(statement) == 1

    def settle(
        self,
        key: str,
        state: State,
        now: datetime,
        *,
        provider_message_id: str | None = None,
        reason: str | None = None,
        provider_status: int | None = None,
    ) -> LedgerEntry:
        outcome = Settlement(key, state, now, provider_message_id, reason, provider_status)
        return self.settle_many([outcome])[0]

    def settle_many(self, settlements: Sequence[Settlement]) -> list[LedgerEntry]:
        """One transaction for a batch (an entry no longer pending is left as it is)."""
        values = [
            {
                "b_key": s.key,
                "b_state": s.state.value,
                "b_now": s.now,
                "b_provider_message_id": s.provider_message_id,
                "b_reason": s.reason,
                "b_provider_status": s.provider_status,
                "b_sent_at": s.now if s.state is State.SENT else None,
            }
            for s in settlements
        ]
        if not values:
            return []
        with self._engine.begin() as conn:
            self._settle.run_many(conn, values)
            found = {entry.key: entry for entry in self._get_many(conn, sorted({s.key for s in settlements}))}
        return [found[s.key] for s in settlements]

    def claim_due(self, now: datetime, stale_before: datetime, limit: int) -> list[LedgerEntry]:
        """Delayed entries due by `now`, and scheduled sends a crashed worker left pending (not
        touched since `stale_before`), moved to pending. Compare-and-set on (state, attempts):
        of replicas racing for one key exactly one gets it."""
        due = (LedgerRow.state == State.DELAYED.value) & (LedgerRow.due_at <= now)
        abandoned = (
            (LedgerRow.state == State.PENDING.value)
            & LedgerRow.due_at.is_not(None)
            & (LedgerRow.updated_at < stale_before)
        )
        candidates = (
            select(LedgerRow.key, LedgerRow.state, LedgerRow.attempts)
            .where(due | abandoned)
            .order_by(LedgerRow.due_at)
            .limit(limit)
        )
        with Session(self._engine) as session:
            seen = list(session.exec(candidates))
        claimed = []
        for key, state, attempts in seen:
            statement = (
                update(LedgerRow)
                .where(LedgerRow.key == key, LedgerRow.state == state, LedgerRow.attempts == attempts)
                .values(state=State.PENDING.value, attempts=attempts + 1, updated_at=now)
            )
            if self._execute(statement) == 1 and (entry := self.get(key)) is not None:
                claimed.append(entry)
        return claimed

    def record_message(
        self, key: str, channel: Channel, recipient: str, body_digest: str, provider: str, now: datetime
    ) -> LedgerEntry:
        """A claimed scheduled entry's message, written before the provider is called."""
        values = {
            "channel": channel.value,
            "recipient": recipient,
            "body_digest": body_digest,
            "provider": provider,
            "updated_at": now,
        }
        self._execute(
            update(LedgerRow).where(LedgerRow.key == key, LedgerRow.state == State.PENDING.value).values(**values)
        )
        entry = self.get(key)
        assert entry is not None
        return entry

    def reschedule(
        self,
        key: str,
        channel: Channel,
        due_at: datetime,
        reason: str,
        now: datetime,
        unconfirmed_message: str | None = None,
    ) -> LedgerEntry:
        """A pending entry back to delayed, due at `due_at`: one the policy delays again, or a
        send awaiting the provider's lookup (with its message)."""
        values = {
            "state": State.DELAYED.value,
            "channel": channel.value,
            "due_at": due_at,
            "reason": reason,
            "updated_at": now,
            "unconfirmed_message": unconfirmed_message,
        }
        self._execute(
            update(LedgerRow).where(LedgerRow.key == key, LedgerRow.state == State.PENDING.value).values(**values)
        )
        entry = self.get(key)
        assert entry is not None
        return entry

    def delayed_for(self, store_id: str, customer_id: str) -> list[LedgerEntry]:
        with self._reads.connect() as conn:
            rows = self._delayed_for.all(conn, {"b_store": store_id, "b_customer": customer_id})
        return [_entry_of(row) for row in rows]

    def cancel(self, key: str, reason: str, now: datetime) -> LedgerEntry | None:
        """A delayed entry settled as suppressed; None when it is no longer delayed (the
        scheduler took it first)."""
        statement = (
            update(LedgerRow)
            .where(LedgerRow.key == key, LedgerRow.state == State.DELAYED.value)
            .values(state=State.SUPPRESSED.value, reason=reason, updated_at=now)
        )
        return self.get(key) if self._execute(statement) == 1 else None

    def count_duplicate(self, key: str) -> None:
        with self._engine.begin() as conn:
            self._duplicate.run(conn, {"b_key": key})

    def mark_published(self, keys: list[str], now: datetime) -> None:
        if not keys:
            return
        with self._engine.begin() as conn:
            self._published.run_many(conn, [{"b_key": key, "b_now": now} for key in keys])

    def stats(self) -> list[StatsRow]:
        # Why a message was suppressed or delayed is a short code (holdout, frequency_cap...);
        # a failure's reason is the provider's free text, so it is left out of the grouping.
        reason = case((LedgerRow.state.in_(("suppressed", "delayed")), LedgerRow.reason), else_=None)
        statement = (
            select(
                LedgerRow.flow,
                LedgerRow.channel,
                LedgerRow.state,
                func.count(),
                func.coalesce(func.sum(LedgerRow.duplicate_hits), 0),
                reason,
            )
            .group_by(LedgerRow.flow, LedgerRow.channel, LedgerRow.state, reason)
            .order_by(LedgerRow.flow, LedgerRow.channel, LedgerRow.state, reason)
        )
        with Session(self._engine) as session:
            return [StatsRow(f, c, s, int(n), int(d), r) for f, c, s, n, d, r in session.exec(statement)]

    def _execute(self, statement: Update) -> int:
        with self._engine.begin() as conn:
            return conn.execute(statement).rowcount


class SqlSuppressions:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reads = loop_reads(engine)  # the event loop's turn shares one read connection
        self._get = PreparedCache(engine.dialect.name)(_SUPPRESSIONS_GET)

    def get(self, store_id: str, customer_id: str) -> SuppressionList:
        with self._reads.connect() as conn:
            rows = self._get.all(conn, {"b_store": store_id, "b_customer": customer_id})
        found = EMPTY
        for _store, _customer, channel, block, address, lift, changed_at in rows:  # the table's order
            found = found.apply(
                Change(
                    Channel(channel),
                    Block(block),
                    _utc(changed_at),  # type: ignore[arg-type]
                    lift=lift,
                    address=address or None,
                )
            )
        return found

    def apply(self, store_id: str, customer_id: str, change: Change) -> None:
        """Record the change unless a newer one for the same block is there (a late replay)."""
        address = change.address.casefold() if change.address else ""
        row = SuppressionRow(
            store_id=store_id,
            customer_id=customer_id,
            channel=change.channel.value,
            block=change.block.value,
            address=address,
            lift=change.lift,
            changed_at=change.at,
        )
        try:
            with Session(self._engine) as session:
                session.add(row)
                session.commit()
            return
        except IntegrityError:
            pass
        # Compare-and-set on the time: of two writers the newer change stays.
        statement = (
            update(SuppressionRow)
            .where(
                SuppressionRow.store_id == store_id,
                SuppressionRow.customer_id == customer_id,
                SuppressionRow.channel == change.channel.value,
                SuppressionRow.block == change.block.value,
                SuppressionRow.address == address,
                SuppressionRow.changed_at <= change.at,
            )
            .values(lift=change.lift, changed_at=change.at)
        )
        with self._engine.begin() as conn:
            conn.execute(statement)


class SqlCoupons:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def for_key(self, idempotency_key: str) -> Coupon | None:
        with Session(self._engine) as session:
            row = session.exec(select(CouponRow).where(CouponRow.idempotency_key == idempotency_key)).first()
            return _to_coupon(row) if row else None

    def get(self, store_id: str, code: str) -> Coupon | None:
        with Session(self._engine) as session:
            row = session.get(CouponRow, (store_id, normalize_code(code)))
            return _to_coupon(row) if row else None

    def add(self, coupon: Coupon) -> Coupon | None:
        try:
            with Session(self._engine) as session:
                session.add(CouponRow(**{**asdict(coupon), "kind": coupon.kind.value}))
                session.commit()
            return coupon
        except IntegrityError:
            # Either this message got its coupon meanwhile (return that one) or the code is taken.
            return self.for_key(coupon.idempotency_key)

    def redeem(self, store_id: str, code: str, order_id: str, now: datetime) -> Redemption:
        code = normalize_code(code)
        statement = (
            update(CouponRow)
            .where(CouponRow.store_id == store_id, CouponRow.code == code, CouponRow.redeemed_order_id.is_(None))
            .values(redeemed_order_id=order_id, redeemed_at=now)
        )
        if self._execute(statement) == 1:
            return Redemption.REDEEMED
        outcome, _ = redeem(self.get(store_id, code), order_id, now)
        return outcome

    def _execute(self, statement: Update) -> int:
        with self._engine.begin() as conn:
            return conn.execute(statement).rowcount


def _to_coupon(row: CouponRow) -> Coupon:
    data = row.model_dump()
    data["kind"] = OfferKind(row.kind)
    for name in ("issued_at", "expires_at", "redeemed_at"):
        data[name] = _utc(data[name])
    return Coupon(**data)


def _to_values(entry: LedgerEntry) -> dict[str, object]:
    data = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
    data["channel"] = entry.channel.value
    data["state"] = entry.state.value
    data["purpose"] = entry.purpose.value if entry.purpose else None
    return data


def _entry_of(row: Sequence[Any]) -> LedgerEntry:
    """A ledger row read by a `Prepared` statement (columns in the table's order)."""
    return _to_entry(dict(zip(_LEDGER_COLUMNS, row)))


def _to_entry(row: dict[str, Any]) -> LedgerEntry:
    """A ledger row's columns by name."""
    data = {name: row[name] for name in _ENTRY_FIELDS}
    data["channel"] = Channel(row["channel"])
    data["state"] = State(row["state"])
    data["purpose"] = Purpose(row["purpose"]) if row["purpose"] else None
    for name in ("created_at", "updated_at", "sent_at", "published_at", "due_at"):
        data[name] = _utc(data[name])
    return LedgerEntry(**data)


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands datetimes back without their zone; they were written in UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)

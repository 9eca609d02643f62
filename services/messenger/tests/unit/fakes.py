"""Hand-written fakes of the messenger's ports, shared by the unit tests of its handlers."""

from __future__ import annotations

from dataclasses import replace
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from boomerang.messenger.domain.audience import CustomerFacts
from boomerang.messenger.domain.broadcasts import Broadcast, Member
from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.coupons import Coupon, Redemption, redeem
from boomerang.messenger.domain.messages import LedgerEntry, Outbound, State
from boomerang.messenger.domain.recommendations import Neighbourhood, category_key
from boomerang.messenger.service_layer.ports import Claim, PlacedOrder, StatsRow
from boomerang.shared.events import Envelope, OrderPlaced, ProductViewed


class FakeLedger:
    def __init__(self) -> None:
        self.rows: dict[str, LedgerEntry] = {}

    def claim(self, entry: LedgerEntry) -> Claim:
        if entry.key in self.rows:
            return Claim(self.rows[entry.key], won=False)
        self.rows[entry.key] = entry
        return Claim(entry, won=True)

    def claim_many(self, entries) -> list[Claim]:
        return [self.claim(entry) for entry in entries]

    def settle_many(self, settlements) -> list[LedgerEntry]:
        return [
            self.settle(
                s.key,
                s.state,
                s.now,
                provider_message_id=s.provider_message_id,
                reason=s.reason,
                provider_status=s.provider_status,
            )
            for s in settlements
        ]

    def get(self, key: str) -> LedgerEntry | None:
        return self.rows.get(key)

    def get_many(self, keys: Sequence[str]) -> list[LedgerEntry | None]:
        return [self.rows.get(key) for key in keys]

    def by_message_id(self, message_id: str) -> LedgerEntry | None:
        return next((e for e in self.rows.values() if e.message_id == message_id), None)

    def history(self, store_id: str, customer_id: str, since: datetime) -> list[LedgerEntry]:
        return [
            e
            for e in self.rows.values()
            if (e.store_id, e.customer_id) == (store_id, customer_id)
            and (e.created_at >= since or e.state is State.DELAYED)
        ]

    def take_over(self, key: str, attempts_seen: int, now: datetime) -> bool:
        row = self.rows[key]
        if row.state is not State.PENDING or row.attempts != attempts_seen:
            return False
        self.rows[key] = replace(row, attempts=row.attempts + 1)
        return True

    def settle(self, key, state, now, *, provider_message_id=None, reason=None, provider_status=None):
        sent_at = now if state is State.SENT else None
        self.rows[key] = replace(
            self.rows[key],
            state=state,
            updated_at=now,
            sent_at=sent_at,
            provider_message_id=provider_message_id,
            reason=reason,
            provider_status=provider_status,
        )
        return self.rows[key]

    def claim_due(self, now: datetime, stale_before: datetime, limit: int) -> list[LedgerEntry]:
        due = [
            e
            for e in self.rows.values()
            if (e.state is State.DELAYED and e.due_at is not None and e.due_at <= now)
            or (e.state is State.PENDING and e.due_at is not None and e.updated_at < stale_before)
        ]
        due.sort(key=lambda e: e.due_at)  # type: ignore[arg-type, return-value]
        for entry in due[:limit]:
            self.rows[entry.key] = replace(entry, state=State.PENDING, attempts=entry.attempts + 1, updated_at=now)
        return [self.rows[e.key] for e in due[:limit]]

    def record_message(self, key, channel, recipient, body_digest, provider, now) -> LedgerEntry:
        row = self.rows[key]
        assert row.state is State.PENDING
        self.rows[key] = replace(
            row, channel=channel, recipient=recipient, body_digest=body_digest, provider=provider, updated_at=now
        )
        return self.rows[key]

    def reschedule(self, key, channel, due_at, reason, now, unconfirmed_message=None) -> LedgerEntry:
        row = self.rows[key]
        assert row.state is State.PENDING
        self.rows[key] = replace(
            row, state=State.DELAYED, channel=channel, due_at=due_at, reason=reason, updated_at=now,
            unconfirmed_message=unconfirmed_message,
        )
        return self.rows[key]

    def delayed_for(self, store_id: str, customer_id: str) -> list[LedgerEntry]:
        return [
            e
            for e in self.rows.values()
            if (e.store_id, e.customer_id) == (store_id, customer_id) and e.state is State.DELAYED
        ]

    def cancel(self, key: str, reason: str, now: datetime) -> LedgerEntry | None:
        row = self.rows[key]
        if row.state is not State.DELAYED:
            return None
        self.rows[key] = replace(row, state=State.SUPPRESSED, reason=reason, updated_at=now)
        return self.rows[key]

    def count_duplicate(self, key: str) -> None:
        self.rows[key] = replace(self.rows[key], duplicate_hits=self.rows[key].duplicate_hits + 1)

    def mark_published(self, keys: list[str], now: datetime) -> None:
        for key in keys:
            self.rows[key] = replace(self.rows[key], published_at=now)

    def stats(self) -> list[StatsRow]:
        return []


class FakeOutcomes:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def publish(self, envelopes: list[Envelope]) -> None:
        self.envelopes.extend(envelopes)


class FakeContacts:
    def __init__(self) -> None:
        self.cards: dict[tuple[str, str], Contact] = {}

    def get(self, store_id: str, customer_id: str) -> Contact | None:
        return self.cards.get((store_id, customer_id))

    def save(self, contact: Contact) -> None:
        self.cards[(contact.store_id, contact.customer_id)] = contact


class FakeSegmentMembers:
    """Each customer's latest segment per dimension, as `adapters.segments` keeps them."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], tuple[str, datetime, int, Decimal]] = {}

    def record(self, store_id, customer_id, dimension, segment, changed_at, orders, net_revenue) -> None:
        current = self.rows.get((store_id, customer_id, dimension))
        if current is None or current[1] <= changed_at:
            self.rows[(store_id, customer_id, dimension)] = (segment, changed_at, orders, net_revenue)

    def facts_of(self, store_id: str, customer_id: str) -> CustomerFacts | None:
        rows = [row for (s, c, _), row in self.rows.items() if (s, c) == (store_id, customer_id)]
        if not rows:
            return None
        latest = max(rows, key=lambda row: row[1])
        return CustomerFacts(frozenset(row[0] for row in rows), orders=latest[2], net_revenue=latest[3])

    def members(self, store_id: str, segments) -> list[Member]:
        ids = sorted({c for (s, c, _), row in self.rows.items() if s == store_id and row[0] in segments})
        return [Member(c, self.facts_of(store_id, c)) for c in ids]  # type: ignore[arg-type]


class FakeCampaigns:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Broadcast] = {}

    def add(self, broadcast: Broadcast, now: datetime) -> Broadcast:
        return self.rows.setdefault((broadcast.store_id, broadcast.campaign_id), broadcast)

    def get(self, store_id: str, campaign_id: str) -> Broadcast | None:
        return self.rows.get((store_id, campaign_id))


class FakeCoupons:
    """The coupon repository's contract: unique by idempotency key and by (store, code)."""

    def __init__(self, rows: dict[tuple[str, str], Coupon] | None = None) -> None:
        self.rows: dict[tuple[str, str], Coupon] = dict(rows or {})
        self.adds = 0

    def for_key(self, key: str) -> Coupon | None:
        return next((c for c in self.rows.values() if c.idempotency_key == key), None)

    def get(self, store_id: str, code: str) -> Coupon | None:
        return self.rows.get((store_id, code))

    def add(self, new: Coupon) -> Coupon | None:
        self.adds += 1
        if (existing := self.for_key(new.idempotency_key)) is not None:
            return existing
        if (new.store_id, new.code) in self.rows:
            return None
        self.rows[(new.store_id, new.code)] = new
        return new

    def redeem(self, store_id: str, code: str, order_id: str, now: datetime) -> Redemption:
        outcome, after = redeem(self.get(store_id, code), order_id, now)
        if after is not None:
            self.rows[(store_id, code)] = after
        return outcome


class FakeInterests:
    """The `Recommendations` port's customer side, as `adapters.recommendations` keeps it: each
    customer's category keys, named by the categories of ordered products (a key only viewed
    keeps no name), most bought first. No co-purchase counts: `neighbourhood` is empty."""

    def __init__(self) -> None:
        self.bought: dict[tuple[str, str], dict[str, set[str]]] = {}  # key -> products bought
        self.names: dict[tuple[str, str], str] = {}  # (store, key) -> the catalogue's name

    def record_order(self, store_id: str, customer_id: str, order: OrderPlaced, now: datetime) -> bool:
        for line in order.lines:
            if (key := category_key(line.category)) is not None:
                self.names[(store_id, key)] = line.category.strip()  # type: ignore[union-attr]
                self.bought.setdefault((store_id, customer_id), {}).setdefault(key, set()).add(line.product_id)
        return True

    def record_orders(self, orders: Sequence[PlacedOrder], now: datetime) -> list[bool]:
        return [self.record_order(*placed, now) for placed in orders]

    def record_view(self, store_id: str, customer_id: str, event: ProductViewed) -> None:
        if (key := category_key(event.category)) is not None:
            self.bought.setdefault((store_id, customer_id), {}).setdefault(key, set())

    def neighbourhood(self, store_id: str, customer_id: str, order_lines, k: int) -> Neighbourhood:
        return Neighbourhood(interests=frozenset(self.bought.get((store_id, customer_id), {})))

    def categories_of(self, store_id: str, customer_id: str) -> list[str]:
        known = self.bought.get((store_id, customer_id), {})
        ranked = sorted(known, key=lambda key: (-len(known[key]), key))
        return [self.names.get((store_id, key), key) for key in ranked]


class FakeProvider:
    """SendGrid or Twilio: accepts every message, and finds what it accepted."""

    lookup_lag = timedelta(0)

    def __init__(self, name: str) -> None:
        self.name = name
        self.accepted: list[Outbound] = []

    async def send(self, message: Outbound) -> str | None:
        self.accepted.append(message)
        return f"{self.name}-{message.message_id}"

    async def find(self, entry: LedgerEntry, sent_since: datetime) -> str | None:
        taken = any(m.message_id == entry.message_id for m in self.accepted)
        return f"{self.name}-{entry.message_id}" if taken else None

"""What the handlers need from the outside world, as protocols the adapters (and fakes) fulfil."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from boomerang.messenger.domain.audience import CustomerFacts
from boomerang.messenger.domain.broadcasts import Broadcast, Member
from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.coupons import Coupon, Redemption
from boomerang.messenger.domain.flows import Channel, Step
from boomerang.messenger.domain.suppressions import Change, SuppressionList
from boomerang.messenger.domain.recommendations import Neighbourhood
from boomerang.messenger.domain.messages import LedgerEntry, Outbound, Rendered, State
from boomerang.shared.events import Envelope, OrderLine, OrderPlaced, ProductViewed


class Contacts(Protocol):
    def get(self, store_id: str, customer_id: str) -> Contact | None: ...

    def save(self, contact: Contact) -> None: ...


@dataclass(frozen=True)
class Claim:
    entry: LedgerEntry
    won: bool  # False: the key was already in the ledger, `entry` is what is there


@dataclass(frozen=True)
class Settlement:
    """A pending entry's outcome, to write (`SendLedger.settle_many`)."""

    key: str
    state: State
    now: datetime
    provider_message_id: str | None = None
    reason: str | None = None
    provider_status: int | None = None


@dataclass(frozen=True)
class StatsRow:
    flow: str
    channel: str
    state: str
    messages: int
    duplicates_avoided: int
    reason: str | None = None  # suppressed and delayed messages: why (holdout, frequency_cap, ...)


class SendLedger(Protocol):
    def claim(self, entry: LedgerEntry) -> Claim:
        """Insert the entry unless its key exists; exactly one of concurrent claims wins."""
        ...

    def claim_many(self, entries: Sequence[LedgerEntry]) -> list[Claim]:
        """`claim` for each entry, in order, committed together (before any provider call)."""
        ...

    def get(self, key: str) -> LedgerEntry | None: ...

    def get_many(self, keys: Sequence[str]) -> list[LedgerEntry | None]:
        """One per key, in order: None for a key not in the ledger."""
        ...

    def by_message_id(self, message_id: str) -> LedgerEntry | None: ...

    def history(self, store_id: str, customer_id: str, since: datetime) -> list[LedgerEntry]:
        """The customer's entries created since `since`, and every delayed one."""
        ...

    def take_over(self, key: str, attempts_seen: int, now: datetime) -> bool:
        """Resume a pending entry; only one of concurrent resumers gets True."""
        ...

    def settle(
        self,
        key: str,
        state: State,
        now: datetime,
        *,
        provider_message_id: str | None = None,
        reason: str | None = None,
        provider_status: int | None = None,
    ) -> LedgerEntry: ...

    def settle_many(self, settlements: Sequence[Settlement]) -> list[LedgerEntry]:
        """`settle` for each, committed together; the entries as they are afterwards."""
        ...

    def claim_due(self, now: datetime, stale_before: datetime, limit: int) -> list[LedgerEntry]:
        """Move up to `limit` delayed entries due by `now` (and scheduled ones left pending since
        before `stale_before`) to pending; each key goes to exactly one of concurrent callers."""
        ...

    def record_message(
        self, key: str, channel: Channel, recipient: str, body_digest: str, provider: str, now: datetime
    ) -> LedgerEntry: ...

    def reschedule(
        self,
        key: str,
        channel: Channel,
        due_at: datetime,
        reason: str,
        now: datetime,
        unconfirmed_message: str | None = None,
    ) -> LedgerEntry:
        """A pending entry back to delayed; with the message of a send awaiting lookup."""
        ...

    def delayed_for(self, store_id: str, customer_id: str) -> list[LedgerEntry]: ...

    def cancel(self, key: str, reason: str, now: datetime) -> LedgerEntry | None:
        """Settle a still-delayed entry as suppressed; None if it is not delayed any more."""
        ...

    def count_duplicate(self, key: str) -> None: ...

    def mark_published(self, keys: list[str], now: datetime) -> None: ...

    def stats(self) -> list[StatsRow]: ...


class Suppressions(Protocol):
    def get(self, store_id: str, customer_id: str) -> SuppressionList: ...

    def apply(self, store_id: str, customer_id: str, change: Change) -> None:
        """Record the change unless a newer one for the same block is already there."""
        ...


class ProviderError(Exception):
    """A provider refused or could not be reached. status None: no HTTP answer at all."""

    def __init__(
        self, provider: str, status: int | None, reason: str, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{provider} {status}: {reason}")
        self.provider = provider
        self.status = status
        self.reason = reason
        self.retry_after = retry_after

    def __reduce__(self):  # it crosses from the SDK process (adapters.sdk_process)
        return ProviderError, (self.provider, self.status, self.reason, self.retry_after)

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500

    @property
    def ambiguous(self) -> bool:
        """The provider may have accepted the message before failing (5xx, lost connection)."""
        return self.status is None or self.status >= 500


class LookupUnavailable(Exception):
    """The provider cannot say whether it has a message: no lookup on the account (SendGrid's
    Email Activity is a paid add-on), or the lookup is refused (401, 403...)."""


class Provider(Protocol):
    name: str
    # How long after a send `find` may still miss it (SendGrid's Email Activity indexes late);
    # until then a miss is no proof the message is not there.
    lookup_lag: timedelta

    async def send(self, message: Outbound) -> str | None:
        """Hand the message over; returns the provider's message id. Raises ProviderError."""
        ...

    async def find(self, entry: LedgerEntry, sent_since: datetime) -> str | None:
        """The provider's id of the entry's message if the provider already has it, else None.
        Raises ProviderError, or LookupUnavailable when it has no lookup to ask."""
        ...


class Renderer(Protocol):
    def render(self, step: Step, view: dict[str, Any], locales: Sequence[str] = ...) -> Rendered:
        """The step's parts from the first of `locales` that has its templates."""
        ...


class CouponRepository(Protocol):
    def for_key(self, idempotency_key: str) -> Coupon | None: ...

    def add(self, coupon: Coupon) -> Coupon | None:
        """Store a new coupon. The coupon stored for its key if one is there already (this one
        is dropped); None if its code is taken (draw another)."""
        ...

    def get(self, store_id: str, code: str) -> Coupon | None: ...

    def redeem(self, store_id: str, code: str, order_id: str, now: datetime) -> Redemption:
        """Mark the code redeemed by the order, once; concurrent orders: the first wins."""
        ...


class OutcomePublisher(Protocol):
    async def publish(self, envelopes: list[Envelope]) -> None:
        """Returns once every envelope is durably stored; raises otherwise."""
        ...


class PlacedOrder(NamedTuple):
    """An order and whose it is, as the order records take a batch of them."""

    store_id: str
    customer_id: str
    order: OrderPlaced


class Recommendations(Protocol):
    """Co-purchase counts, the store's catalogue and each customer's interests."""

    def record_orders(self, orders: Sequence[PlacedOrder], now: datetime) -> list[bool]:
        """Count each order once (by its order id), all or none; False for one counted before."""
        ...

    def record_view(self, store_id: str, customer_id: str, event: ProductViewed) -> None: ...

    def neighbourhood(
        self, store_id: str, customer_id: str, order_lines: Sequence[OrderLine], k: int
    ) -> Neighbourhood:
        """What `domain.recommendations.recommend` needs for these lines, and no more."""
        ...

    def categories_of(self, store_id: str, customer_id: str) -> list[str]:
        """The categories the customer bought or viewed, by the names the catalogue gives them
        (a category only viewed, never ordered by anyone: its key), most bought first."""
        ...


class SegmentMembers(Protocol):
    """Customers' current segments, from customer.segments.v1 (adapters.segments)."""

    def record(
        self,
        store_id: str,
        customer_id: str,
        dimension: str,
        segment: str,
        changed_at: datetime,
        orders: int,
        net_revenue: Decimal,
    ) -> None: ...

    def facts_of(self, store_id: str, customer_id: str) -> CustomerFacts | None: ...

    def members(self, store_id: str, segments: Sequence[str]) -> Iterable[Member]: ...


class Campaigns(Protocol):
    def add(self, broadcast: Broadcast, now: datetime) -> Broadcast: ...

    def get(self, store_id: str, campaign_id: str) -> Broadcast | None: ...

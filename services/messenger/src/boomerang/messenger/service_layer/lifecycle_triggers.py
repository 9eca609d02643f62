"""The flows started by what the messenger knows of a customer over time, not by one event:
VIP milestones and replenishment (on `OrderPlaced`), birthday and first-purchase anniversary
(on the calendar).

Each writes its flow's first step to the ledger as `delayed` (like the time-after-event flows),
and the scheduler decides and sends it through the usual policy (`Messenger.send_due`), asking
`inputs_for` what the message shows. The trigger instance makes each start once:

- milestone: the milestone ("orders:10", "net_revenue:500"), so each fires once ever;
- replenishment: the product and the order that made it due ("beans@o-17"); any later order
  cancels it (the flow's `exit.events`), and that order writes the next one;
- date: the occasion's local year ("2027"), written by `sweep` a day ahead, so running the
  sweep every few minutes or after a restart writes nothing twice.

Steps whose moment passed more than a day ago (a replay of old history) are suppressed as
`too_late`, like a late feedback request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from boomerang.messenger.domain.audience import NOT_IN_AUDIENCE, CustomerFacts, audience_miss
from boomerang.messenger.domain.content import MessageInputs, Product
from boomerang.messenger.domain.customer_dates import (
    FIRST_PURCHASE,
    CustomerDate,
    month_days_near,
    occasion_due,
)
from boomerang.messenger.domain.featured import Discoveries, featured
from boomerang.messenger.domain.flow_definitions import (
    DateTrigger,
    FlowDefinition,
    MilestoneTrigger,
    ReplenishmentTrigger,
)
from boomerang.messenger.domain.messages import LedgerEntry, Trigger
from boomerang.messenger.domain.milestones import OrderFact, milestone_of, milestones_crossed
from boomerang.messenger.domain.replenishment import Purchase, instance_for, is_latest, reminder_due
from boomerang.messenger.domain.stores import StoreProfile
from boomerang.messenger.domain.timing import LATE_LIMIT, TOO_LATE, due_after, zone_for
from boomerang.shared.clocks import BEFORE_ANY_EVENT
from boomerang.messenger.service_layer.delivery import Delivery
from boomerang.messenger.service_layer.batching import Batched
from boomerang.messenger.service_layer.ports import Contacts, PlacedOrder, SegmentMembers
from boomerang.shared.events import (
    CustomerIdentified,
    Envelope,
    Event,
    OrderCancelled,
    OrderPlaced,
    OrderRefunded,
)
from boomerang.shared.logs import get_logger

log = get_logger(__name__)
# The same reason codes as service_layer.handlers (which imports this module).
FLOW_DELAY = "flow_delay"
# Events the handlers parse for these flows only: a refund or a cancellation lowers the
# customer's net spend.
LIFECYCLE_EVENTS = (OrderRefunded.event_type, OrderCancelled.event_type)
LIFECYCLE_TRIGGERS = (MilestoneTrigger, DateTrigger, ReplenishmentTrigger)


@dataclass(frozen=True)
class OrderRecord:
    """A customer's record right after an order: every order of theirs (net of refunds), and
    their purchases of that order's products."""

    orders: list[OrderFact]
    purchases: dict[str, list[Purchase]]


class CustomerOrders(Protocol):
    """The customer's orders, refunds and yearly dates (adapters.customer_orders)."""

    def record_orders(self, orders: Sequence[PlacedOrder]) -> list[OrderRecord]:
        """Record each order once (by its id), all or none, and return each customer's record
        right after their order."""
        ...

    def record_refund(
        self, store_id: str, customer_id: str, refund_key: str, order_id: str, amount: Decimal
    ) -> None: ...

    def record_cancellation(self, store_id: str, customer_id: str, order_id: str) -> None: ...

    def set_birthday(self, store_id: str, customer_id: str, birthday: date) -> None: ...

    def orders_of(self, store_id: str, customer_id: str) -> list[OrderFact]: ...

    def first_purchase(self, store_id: str, customer_id: str) -> datetime | None: ...

    def dates_on(self, month_days: Iterable[str]) -> list[CustomerDate]: ...

    def discoveries(self, store_id: str, customer_id: str) -> Discoveries: ...


class LifecycleTriggers:
    def __init__(
        self,
        orders: CustomerOrders,
        delivery: Delivery,
        ledger_get: Callable[[str], LedgerEntry | None],  # a plain read: the sweep is no redelivery
        flow_files: Any,  # FlowFiles: `for_store(store_id) -> FlowSet`
        contacts: Contacts,
        stores: Callable[[str], StoreProfile],
        clock: Callable[[], datetime],
        segment_members: SegmentMembers | None = None,
        late_limit: timedelta | None = LATE_LIMIT,
    ) -> None:
        self._orders = orders
        # A consumer batch's orders are recorded in one transaction (see service_layer.batching).
        self._record_order: Batched[PlacedOrder, OrderRecord] = Batched(orders.record_orders)
        self._delivery = delivery
        self._ledger_get = ledger_get
        self._flow_files = flow_files
        self._contacts = contacts
        self._stores = stores
        self._clock = clock
        self._segment_members = segment_members
        self._late_limit = late_limit
        self._swept_at: datetime | None = None

    @staticmethod
    def runs(flow: FlowDefinition) -> bool:
        return isinstance(flow.trigger, LIFECYCLE_TRIGGERS)

    # --- events: what the record learns, and the order-started flows -------------------------------

    async def handle(self, envelope: Envelope, event: Event) -> list[LedgerEntry | None]:
        store_id, customer_id = envelope.store_id, envelope.customer_id
        if isinstance(event, CustomerIdentified) and event.birthday is not None:
            self._orders.set_birthday(store_id, customer_id, event.birthday)
        elif isinstance(event, OrderRefunded):
            key = event.refund_id or envelope.id  # the refund's own id, else the event's: once each
            self._orders.record_refund(store_id, customer_id, key, event.order_id, event.amount)
        elif isinstance(event, OrderCancelled):
            self._orders.record_cancellation(store_id, customer_id, event.order_id)
        elif isinstance(event, OrderPlaced):
            record = await self._record_order(PlacedOrder(store_id, customer_id, event))
            return await self._order_flows(envelope, event, record)
        return []

    async def _order_flows(
        self, envelope: Envelope, order: OrderPlaced, record: OrderRecord
    ) -> list[LedgerEntry | None]:
        flows = self._flow_files.for_store(envelope.store_id).started_by(OrderPlaced.event_type)
        written: list[LedgerEntry | None] = []
        for flow in flows:
            if isinstance(flow.trigger, MilestoneTrigger):
                for instance in milestones_crossed(flow.trigger, record.orders, order.order_id):
                    due = due_after(order.placed_at, _wait(flow), self._clock(), self._late_limit)
                    written.append(await self._write(flow, envelope, instance, due, record.orders))
            elif isinstance(flow.trigger, ReplenishmentTrigger):
                written += await self._replenishment(flow, flow.trigger, envelope, order, record)
        return written

    async def _replenishment(
        self,
        flow: FlowDefinition,
        trigger: ReplenishmentTrigger,
        envelope: Envelope,
        order: OrderPlaced,
        record: OrderRecord,
    ) -> list[LedgerEntry | None]:
        written = []
        for product_id in sorted(record.purchases):
            purchases = record.purchases[product_id]
            if not is_latest(purchases, order.order_id):
                continue  # a late replay of an older order: the newer one has its reminder
            due = reminder_due(purchases, trigger.min_purchases, trigger.remind_before)
            if due is None:
                continue
            last = max(p.placed_at for p in purchases)
            when = due_after(last, due - last + _wait(flow), self._clock(), self._late_limit)
            instance = instance_for(product_id, order.order_id)
            written.append(await self._write(flow, envelope, instance, when, record.orders))
        return written

    # --- the calendar: birthdays and anniversaries ---------------------------------------------------

    async def sweep(self) -> int:
        """Write the date flows' occasions due within the next day (or missed by less than one)
        as delayed steps; the number written. Reads only customers whose day is near."""
        now = self._clock()
        lookback = self._lookback(now)
        written = []
        for stored in self._orders.dates_on(month_days_near(now, lookback=lookback)):
            flows = [
                flow
                for flow in self._flow_files.for_store(stored.store_id).enabled
                if isinstance(flow.trigger, DateTrigger) and flow.trigger.date == stored.occasion
            ]
            if not flows:
                continue
            contact = self._contacts.get(stored.store_id, stored.customer_id)
            store = self._stores(stored.store_id)
            zone = zone_for(contact.timezone if contact else None, store.default_timezone)
            for flow in flows:
                assert isinstance(flow.trigger, DateTrigger)
                found = occasion_due(stored, flow.trigger.at, zone, now, lookback=lookback)
                if found is None:
                    continue
                instance, due = found
                origin = Origin(stored.store_id, stored.customer_id, f"calendar-{instance}")
                if self._ledger_get(self._entry(flow, origin, instance).key) is not None:
                    continue  # written by an earlier sweep: no duplicate to count, nothing to do
                written.append(await self._write(flow, origin, instance, due + _wait(flow)))
        await self._delivery.publish(written)
        self._swept_at = now
        if written:
            log.info("date_flows_swept", written=len(written))
        return len(written)

    def _lookback(self, now: datetime) -> timedelta:
        """A day on the wall clock. On event time (no late limit) a replay passes days between two
        sweeps, so a sweep looks back to the last one: no birthday the replay ran past is missed."""
        if self._late_limit is not None or self._swept_at is None or self._swept_at <= BEFORE_ANY_EVENT:
            return LATE_LIMIT
        return max(LATE_LIMIT, now - self._swept_at)

    # --- content: what the scheduler's message shows -------------------------------------------------

    def inputs_for(
        self, flow: FlowDefinition, entry: LedgerEntry, event: Event | None
    ) -> MessageInputs | None:
        """What the step shows; None for flows this module does not start."""
        trigger = flow.trigger
        if isinstance(trigger, MilestoneTrigger):
            currency = event.currency if isinstance(event, OrderPlaced) else "USD"
            return MessageInputs(milestone=milestone_of(entry.trigger_id, currency))
        if isinstance(trigger, ReplenishmentTrigger):
            return self._reorder(entry, event)
        if isinstance(trigger, DateTrigger) and trigger.date == FIRST_PURCHASE:
            return self._anniversary(entry)
        if isinstance(trigger, DateTrigger):
            return MessageInputs()
        return None

    def _reorder(self, entry: LedgerEntry, event: Event | None) -> MessageInputs:
        if not isinstance(event, OrderPlaced):
            return MessageInputs()
        line = next(
            (each for each in event.lines if instance_for(each.product_id, event.order_id) == entry.trigger_id),
            None,
        )
        if line is None:
            return MessageInputs(order=event)
        url = line.url or self._stores(entry.store_id).url
        product = Product(
            name=line.name, url=url, price=line.unit_price, currency=event.currency, category=line.category
        )
        return MessageInputs(product=product, last_ordered_on=event.placed_at.date())

    def _anniversary(self, entry: LedgerEntry) -> MessageInputs:
        first = self._orders.first_purchase(entry.store_id, entry.customer_id)
        contact = self._contacts.get(entry.store_id, entry.customer_id)
        zone = zone_for(contact.timezone if contact else None, self._stores(entry.store_id).default_timezone)
        known = self._orders.discoveries(entry.store_id, entry.customer_id)
        picked = featured(known.candidates, known.first_seen, known.interests, known.bought, self._clock())
        return MessageInputs(
            first_order_on=first.astimezone(zone).date() if first else None,
            products=[p.as_product() for p in picked],
            categories=sorted(known.interests),
        )

    # --- shared ------------------------------------------------------------------------------------------

    def _entry(self, flow: FlowDefinition, origin: Envelope | Origin, instance: str) -> LedgerEntry:
        name, step = next(iter(flow.steps.items()))
        trigger = Trigger(origin.store_id, origin.customer_id, flow.name, instance, origin.id)
        return LedgerEntry.open(trigger, name, step.channels[0], self._clock(), flow.purpose, flow.priority)

    async def _write(
        self,
        flow: FlowDefinition,
        origin: Envelope | Origin,
        instance: str,
        due: datetime | None,
        history: list[OrderFact] | None = None,
    ) -> LedgerEntry | None:
        entry = self._entry(flow, origin, instance)
        if (recalled := await self._delivery.recall(entry.key)) is not None:
            return recalled  # a redelivered order: written before
        if (miss := audience_miss(flow.audience, self._facts(origin, history))) is not None:
            log.info("not_in_audience", flow=flow.name, message_id=entry.message_id, detail=miss)
            return await self._delivery.suppress(entry, NOT_IN_AUDIENCE)
        if due is None:
            return await self._delivery.suppress(entry, TOO_LATE)
        if isinstance(origin, Envelope):  # the order: the scheduler renders it and writes to its address
            entry = replace(entry, trigger_data=origin.to_bytes().decode())
        return await self._delivery.delay(entry, due, FLOW_DELAY)

    def _facts(self, origin: Envelope | Origin, history: list[OrderFact] | None) -> CustomerFacts:
        store_id, customer_id = origin.store_id, origin.customer_id
        orders = history if history is not None else self._orders.orders_of(store_id, customer_id)
        known = self._segment_members.facts_of(store_id, customer_id) if self._segment_members else None
        return CustomerFacts(
            segments=known.segments if known else frozenset(),
            orders=len(orders),
            net_revenue=sum((o.net for o in orders), Decimal(0)),
        )


@dataclass(frozen=True)
class Origin:
    """What started a swept step: no event, the calendar (`id` stands for the envelope id)."""

    store_id: str
    customer_id: str
    id: str


def _wait(flow: FlowDefinition) -> timedelta:
    name = next(iter(flow.steps))
    return flow.delay + flow.steps[name].delay

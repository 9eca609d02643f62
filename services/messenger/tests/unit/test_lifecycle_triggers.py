"""The order- and calendar-started flows (service_layer.lifecycle_triggers) with hand-written
fakes of the customer record, the ledger and the outcome publisher."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.customer_dates import BIRTHDAY, CustomerDate
from boomerang.messenger.domain.featured import Discoveries
from boomerang.messenger.domain.flows import Channel
from boomerang.messenger.domain.messages import State
from boomerang.messenger.domain.milestones import OrderFact
from boomerang.messenger.domain.replenishment import Purchase
from boomerang.messenger.domain.stores import StoreProfile
from boomerang.messenger.flows import flows_from_texts
from boomerang.messenger.service_layer.delivery import Delivery
from boomerang.messenger.service_layer.lifecycle_triggers import LifecycleTriggers, OrderRecord
from boomerang.messenger.service_layer.retry import RetryPolicy
from boomerang.messenger.service_layer.scheduler import Scheduler
from boomerang.shared.events import (
    CustomerIdentified,
    Envelope,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    OrderRefunded,
)

from .fakes import FakeContacts, FakeLedger, FakeOutcomes

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


class FakeCustomerOrders:
    def __init__(self) -> None:
        self.orders: dict[str, tuple[str, OrderPlaced]] = {}
        self.refunds: dict[str, tuple[str, Decimal]] = {}
        self.dates: list[CustomerDate] = []

    def record_orders(self, orders) -> list[OrderRecord]:
        return [self._record(*placed) for placed in orders]

    def _record(self, store_id, customer_id, order) -> OrderRecord:
        self.orders.setdefault(order.order_id, (customer_id, order))
        products = sorted({line.product_id for line in order.lines})
        return OrderRecord(self.orders_of(store_id, customer_id), self.purchases_of(store_id, customer_id, products))

    def record_refund(self, store_id, customer_id, refund_key, order_id, amount) -> None:
        self.refunds.setdefault(refund_key, (order_id, amount))

    def record_cancellation(self, store_id, customer_id, order_id) -> None:
        if order_id in self.orders:
            self.refunds.setdefault(f"cancelled:{order_id}", (order_id, self.orders[order_id][1].total))

    def set_birthday(self, store_id, customer_id, birthday) -> None:
        self.dates = [d for d in self.dates if (d.customer_id, d.occasion) != (customer_id, BIRTHDAY)]
        self.dates.append(CustomerDate(store_id, customer_id, BIRTHDAY, birthday))

    def orders_of(self, store_id, customer_id) -> list[OrderFact]:
        def net(order: OrderPlaced) -> Decimal:
            return order.total - sum((a for o, a in self.refunds.values() if o == order.order_id), Decimal(0))

        return [OrderFact(o.order_id, o.placed_at, net(o)) for c, o in self.orders.values() if c == customer_id]

    def purchases_of(self, store_id, customer_id, product_ids):
        return {
            p: [Purchase(o.order_id, o.placed_at) for c, o in self.orders.values()
                if c == customer_id and any(line.product_id == p for line in o.lines)]
            for p in product_ids
        }  # fmt: skip

    def first_purchase(self, store_id, customer_id):
        return min((o.placed_at for c, o in self.orders.values() if c == customer_id), default=None)

    def dates_on(self, month_days) -> list[CustomerDate]:
        return [d for d in self.dates if f"{d.day.month:02d}-{d.day.day:02d}" in month_days]

    def discoveries(self, store_id, customer_id):
        return Discoveries()


class Flows:
    def __init__(self, **texts: str) -> None:
        self.flows = flows_from_texts(texts)

    def for_store(self, store_id: str):
        return self.flows


class World:
    def __init__(self, flows: Flows | None = None, late_limit: timedelta | None = timedelta(days=1)) -> None:
        self.now = NOW
        self.ledger = FakeLedger()
        self.outcomes = FakeOutcomes()
        self.records = FakeCustomerOrders()
        self.contacts = FakeContacts()
        delivery = Delivery(self.ledger, {}, self.outcomes, lambda: self.now, RetryPolicy(2, 0.001, 0.01))
        self.lifecycle = LifecycleTriggers(
            self.records, delivery, self.ledger.get, flows or Flows(), self.contacts,
            lambda store: StoreProfile(store, "Shop", "https://shop.example", "help@shop.example",
                                       default_timezone="Europe/Berlin"),
            lambda: self.now,
            late_limit=late_limit,
        )  # fmt: skip

    async def order(self, order_id: str, placed_at: datetime, *products: str, total: str = "100") -> None:
        lines = [OrderLine(product_id=p, name=p, unit_price=Decimal("1")) for p in products]
        event = OrderPlaced(order_id=order_id, placed_at=placed_at, total=Decimal(total), lines=lines)
        await self.handle(event, f"ev-{order_id}")

    async def handle(self, event, envelope_id: str) -> None:
        envelope = Envelope.wrap(event, store_id="s1", customer_id="c1", source="t", time=self.now, id=envelope_id)
        await self.lifecycle.handle(envelope, event)

    def rows(self, flow: str):
        return sorted((e for e in self.ledger.rows.values() if e.flow == flow), key=lambda e: e.trigger_id)


async def test_a_milestone_crossed_by_a_replay_of_old_history_is_suppressed_as_too_late() -> None:
    world = World()
    for n in range(1, 6):
        await world.order(f"o{n}", NOW - timedelta(days=400 - n), "beans")

    found = [(e.trigger_id, e.state, e.reason) for e in world.rows("vip_milestone")]
    assert found == [
        ("net_revenue:500", State.SUPPRESSED, "too_late"),
        ("orders:5", State.SUPPRESSED, "too_late"),
    ]


async def test_a_fresh_milestone_is_written_delayed_by_the_flows_hour_and_a_refund_lowers_the_spend() -> None:
    world = World()
    await world.order("o1", NOW, "beans", total="300")
    await world.handle(OrderRefunded(order_id="o1", refunded_at=NOW, amount=Decimal("200")), "ev-refund")
    await world.order("o2", NOW, "beans", total="300")  # 100 + 300: short of 500
    await world.order("o2b", NOW, "beans", total="90")
    await world.handle(OrderCancelled(order_id="o2b", cancelled_at=NOW), "ev-cancel")  # counts for nothing
    assert world.rows("vip_milestone") == []
    await world.order("o3", NOW, "beans", total="150")

    (entry,) = world.rows("vip_milestone")
    assert entry.trigger_id == "net_revenue:500" and entry.state is State.DELAYED
    assert entry.due_at == NOW + timedelta(hours=1)
    assert entry.trigger_data is not None  # the order, for its currency and address


async def test_a_switched_off_flow_starts_nothing() -> None:
    world = World(Flows(vip_milestone="enabled: false\n", replenishment="enabled: false\n"))
    for n in range(1, 6):
        await world.order(f"o{n}", NOW - timedelta(days=60 - 10 * n), "beans")
    assert world.rows("vip_milestone") == [] and world.rows("replenishment") == []


async def test_a_late_replay_of_an_older_purchase_writes_no_reminder() -> None:
    world = World()
    await world.order("o1", NOW - timedelta(days=20), "beans")
    await world.order("o3", NOW, "beans")
    await world.order("o2", NOW - timedelta(days=10), "beans")  # arrives last, placed in between

    assert [e.trigger_id for e in world.rows("replenishment")] == ["beans@o3"]


async def test_the_sweep_writes_a_birthday_in_the_stores_zone_once_and_skips_the_audience_it_misses() -> None:
    world = World(Flows(birthday="audience:\n  min_orders: 1\n"))
    world.contacts.save(Contact("s1", "c1", email="a@example.com", email_consent=True))
    await world.handle(CustomerIdentified(birthday=date(1990, 3, 3)), "id-1")

    assert await world.lifecycle.sweep() == 1
    assert await world.lifecycle.sweep() == 0
    (entry,) = world.rows("birthday")
    assert entry.trigger_id == "2026" and entry.state is State.SUPPRESSED and entry.reason == "not_in_audience"

    world2 = World()
    await world2.handle(CustomerIdentified(birthday=date(1990, 3, 3)), "id-1")
    await world2.lifecycle.sweep()
    (delayed,) = world2.rows("birthday")
    assert delayed.state is State.DELAYED and delayed.channel is Channel.EMAIL
    assert delayed.due_at == datetime(2026, 3, 3, 8, tzinfo=UTC)  # 09:00 in the store's Berlin


async def test_on_event_time_a_sweep_looks_back_to_the_last_one_so_a_fast_replay_misses_no_birthday() -> None:
    replay, wall = World(late_limit=None), World()
    for world in (replay, wall):
        await world.handle(CustomerIdentified(birthday=date(1990, 3, 10)), "id-1")
        world.now = datetime(2026, 3, 1, 12, tzinfo=UTC)
        assert await world.lifecycle.sweep() == 0  # nine days early
        world.now = datetime(2026, 3, 20, 12, tzinfo=UTC)  # the replay ran past the day meanwhile

    assert (await replay.lifecycle.sweep(), await wall.lifecycle.sweep()) == (1, 0)
    (entry,) = replay.rows("birthday")
    assert (entry.trigger_id, entry.due_at) == ("2026", datetime(2026, 3, 10, 8, tzinfo=UTC))  # sent at once
    replay.now = datetime(2027, 3, 1, 12, tzinfo=UTC)
    assert await replay.lifecycle.sweep() == 0  # a year on: next year's is not due yet, this year's is written


class NothingDue:
    def __init__(self) -> None:
        self.claims = 0

    def claim_due(self, limit, lease):
        self.claims += 1
        return []

    async def publish(self, entries) -> None:
        pass


async def test_the_scheduler_sweeps_at_start_and_a_failed_sweep_stops_no_sends_and_is_tried_again() -> None:
    stop = asyncio.Event()
    delivery = NothingDue()
    claims_before = []

    async def sweep() -> int:
        claims_before.append(delivery.claims)
        if len(claims_before) == 1:
            raise RuntimeError("database away")
        stop.set()
        return 0

    scheduler = Scheduler(None, delivery, sweep=sweep, sweep_every=3600)  # type: ignore[arg-type]
    await asyncio.wait_for(scheduler.run(0.001, stop), 5)
    assert claims_before == [0, 1]  # swept first; after the failure the round still claimed, then swept again


async def test_a_successful_sweep_is_not_repeated_before_its_interval() -> None:
    stop = asyncio.Event()
    sweeps = []

    class ThreeRounds(NothingDue):
        def claim_due(self, limit, lease):
            if super().claim_due(limit, lease) == [] and self.claims == 3:
                stop.set()
            return []

    async def sweep() -> int:
        sweeps.append(1)
        return 0

    scheduler = Scheduler(None, ThreeRounds(), sweep=sweep, sweep_every=3600)  # type: ignore[arg-type]
    await asyncio.wait_for(scheduler.run(0.001, stop), 5)
    assert sweeps == [1]

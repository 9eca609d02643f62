"""VIP milestones, replenishment, birthday and anniversary through the real Messenger, the real
SQLite store and the provider sandbox: events in through `Messenger.handle`, the calendar swept,
the delayed steps sent by the scheduler, on a clock the test moves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from boomerang.messenger.adapters.customer_orders import SqlCustomerOrders
from boomerang.messenger.adapters.recommendations import SqlRecommendations
from boomerang.messenger.adapters.rendering import TemplateRenderer
from boomerang.messenger.adapters.sendgrid import Sender, SendGridEmail
from boomerang.messenger.adapters.store import SqlContacts, SqlCoupons, SqlSendLedger, SqlSuppressions
from boomerang.messenger.adapters.twilio import TwilioSms
from boomerang.messenger.domain.flows import Channel
from boomerang.messenger.domain.messages import LedgerEntry, State
from boomerang.messenger.domain.stores import StoreProfile
from boomerang.messenger.flows import FlowFiles
from boomerang.messenger.migrations import upgrade
from boomerang.messenger.service_layer.composing import Composer
from boomerang.messenger.service_layer.delivery import Delivery
from boomerang.messenger.service_layer.handlers import Messenger
from boomerang.messenger.service_layer.lifecycle_triggers import LifecycleTriggers
from boomerang.messenger.service_layer.scheduler import Scheduler
from boomerang.shared.db import make_engine
from boomerang.shared.events import CustomerIdentified, Envelope, Event, OrderLine, OrderPlaced, OrderRefunded
from boomerang.shared.links import LinkSettings

pytestmark = pytest.mark.integration
T0 = datetime(2026, 1, 5, 10, tzinfo=UTC)
SHOP = "https://shop.example"
# The store's own overrides: no control group (the test customer must get the message) and no
# send window (the clock is the test's); the milestone without its hour's wait.
OVERRIDES = {
    "vip_milestone": "holdout_percent: 0\ndelay: 0\n",
    "replenishment": "holdout_percent: 0\nsend_window: null\n",
    "birthday": "holdout_percent: 0\n",
    "purchase_anniversary": "holdout_percent: 0\n",
}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class KeptOutcomes:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def publish(self, envelopes: list[Envelope]) -> None:
        self.envelopes.extend(envelopes)


@dataclass
class Shop:
    messenger: Messenger
    lifecycle: LifecycleTriggers
    scheduler: Scheduler
    ledger: SqlSendLedger
    contacts: SqlContacts
    clock: Clock
    sandbox: object
    outcomes: KeptOutcomes
    sent_events: int = field(default=0)

    async def tell(self, event: Event, customer_id: str, envelope_id: str) -> None:
        envelope = Envelope.wrap(
            event, store_id="s1", customer_id=customer_id, source="test", time=self.clock.now, id=envelope_id
        )
        await self.messenger.handle(envelope)

    async def order(self, customer_id: str, order_id: str, *products: str, total: str = "20") -> None:
        lines = [
            OrderLine(product_id=p, name=p.replace("-", " ").title(), category="coffee",
                      unit_price=Decimal("10"), url=f"{SHOP}/products/{p}")
            for p in products
        ]  # fmt: skip
        placed = OrderPlaced(order_id=order_id, placed_at=self.clock.now, total=Decimal(total), lines=lines)
        await self.tell(placed, customer_id, f"ev-{order_id}")

    async def known(self, customer_id: str, **data) -> None:
        data = {"email": f"{customer_id}@example.com", "email_marketing_consent": True, **data}
        await self.tell(CustomerIdentified(**data), customer_id, f"id-{customer_id}")

    def entries(self, customer_id: str, flow: str) -> list[LedgerEntry]:
        return [e for e in self.ledger.history("s1", customer_id, T0 - timedelta(days=3650)) if e.flow == flow]

    def emails(self, subject_part: str) -> list[dict]:
        return [m for m in self.sandbox.outbox("sendgrid") if subject_part in m["subject"]]


@pytest.fixture
async def shop(sandbox, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'messenger.db'}"
    upgrade(url)
    engine = make_engine(url)
    flows_dir = tmp_path / "flows"
    (flows_dir / "s1").mkdir(parents=True)
    for name, text in OVERRIDES.items():
        (flows_dir / "s1" / f"{name}.yaml").write_text(text)
    flow_files = FlowFiles(flows_dir)
    clock = Clock(T0)
    ledger = SqlSendLedger(engine)
    email = SendGridEmail("SG.test", sandbox.url, Sender("shop@shop.example", "Shop", "help@shop.example"))
    sms = TwilioSms("AC" + "0" * 32, "token", sandbox.url, "+15005550006")
    outcomes = KeptOutcomes()
    delivery = Delivery(ledger, {Channel.EMAIL: email, Channel.SMS: sms}, outcomes, clock)

    def store(store_id: str) -> StoreProfile:
        return StoreProfile(store_id, "Shop", SHOP, "help@shop.example")

    contacts = SqlContacts(engine)
    composer = Composer(TemplateRenderer(), store, LinkSettings(signing_key="k", base_url="https://fb.example"))
    lifecycle = LifecycleTriggers(SqlCustomerOrders(engine), delivery, ledger.get, flow_files, contacts, store, clock)
    messenger = Messenger(
        contacts, delivery, composer, clock,
        suppressions=SqlSuppressions(engine), coupons=SqlCoupons(engine), flow_files=flow_files,
        recommendations=SqlRecommendations(engine), lifecycle=lifecycle,
    )  # fmt: skip
    scheduler = Scheduler(messenger, delivery, sweep=lifecycle.sweep)
    yield Shop(messenger, lifecycle, scheduler, ledger, contacts, clock, sandbox, outcomes)
    await sms.close()
    await email.close()
    engine.dispose()


async def test_the_fifth_order_and_the_spend_past_500_each_get_one_gift_net_of_refunds(shop: Shop) -> None:
    await shop.known("c-vip")
    for n in range(1, 6):
        shop.clock.now = T0 + timedelta(days=n)
        await shop.order("c-vip", f"o{n}", "beans", total="150")
        if n == 2:  # refunded in full: it does not count towards the spend
            refund = OrderRefunded(order_id="o2", refund_id="r-1", refunded_at=shop.clock.now, amount=Decimal("150"))
            await shop.tell(refund, "c-vip", "ev-r-1")
            await shop.tell(refund, "c-vip", "ev-r-1-again")  # the same refund twice counts once
        if n == 4:
            assert shop.entries("c-vip", "vip_milestone") == []  # 450 net: 500 not reached yet
    await shop.order("c-vip", "o5", "beans", total="150")  # redelivered: nothing new

    entries = shop.entries("c-vip", "vip_milestone")
    assert sorted(e.trigger_id for e in entries) == ["net_revenue:500", "orders:5"]
    assert {e.state for e in entries} == {State.DELAYED}
    shop.clock.now += timedelta(minutes=1)
    await shop.scheduler.run_once()

    states = {e.trigger_id: e for e in shop.entries("c-vip", "vip_milestone")}
    sent = [e for e in states.values() if e.state is State.SENT]
    assert len(sent) == 1  # one marketing email per 16 hours: the other waits for the cap
    (gift,) = shop.emails("a gift for you")
    assert "Order number 5" in gift["text"] or "more than $500.00" in gift["text"]
    assert "% off your next order" in gift["text"]


async def test_replenishment_is_due_by_the_customers_own_rhythm_and_any_order_resets_it(shop: Shop) -> None:
    await shop.known("c-rep")
    await shop.order("c-rep", "o1", "house-blend")
    shop.clock.now = T0 + timedelta(days=30)
    await shop.order("c-rep", "o2", "house-blend")
    (first,) = shop.entries("c-rep", "replenishment")
    assert first.trigger_id == "house-blend@o2" and first.state is State.DELAYED
    assert first.due_at == T0 + timedelta(days=57)  # 30 days later, 3 days ahead
    await shop.order("c-rep", "o2", "house-blend")  # redelivered: its own reminder stands
    assert shop.ledger.get(first.key).state is State.DELAYED

    shop.clock.now = T0 + timedelta(days=40)
    await shop.order("c-rep", "o3", "filters")  # any order stops the reminder
    assert shop.ledger.get(first.key).reason == "exited"
    shop.clock.now = T0 + timedelta(days=50)
    await shop.order("c-rep", "o4", "house-blend")  # bought at 0, 30, 50: every 25 days
    (second,) = [e for e in shop.entries("c-rep", "replenishment") if e.state is State.DELAYED]
    assert second.trigger_id == "house-blend@o4" and second.due_at == T0 + timedelta(days=72)

    shop.clock.now = T0 + timedelta(days=72, minutes=1)
    await shop.scheduler.run_once()
    (reminder,) = shop.emails("Running low")
    assert "Running low on House Blend?" in reminder["text"]
    assert f"{SHOP}/products/house-blend" in reminder["text"]
    assert shop.ledger.get(second.key).state is State.SENT


async def test_a_29_february_birthday_is_greeted_on_28_february_at_nine_berlin_time_once(shop: Shop) -> None:
    shop.clock.now = datetime(2027, 2, 27, 12, tzinfo=UTC)
    await shop.known("c-bday", birthday=date(2000, 2, 29), timezone="Europe/Berlin", first_name="Ada")
    assert shop.contacts.get("s1", "c-bday").birthday == date(2000, 2, 29)

    assert await shop.lifecycle.sweep() == 1
    assert await shop.lifecycle.sweep() == 0  # the next sweep writes nothing twice
    (entry,) = shop.entries("c-bday", "birthday")
    assert entry.trigger_id == "2027" and entry.due_at == datetime(2027, 2, 28, 8, tzinfo=UTC)

    shop.clock.now = datetime(2027, 2, 28, 7, 59, tzinfo=UTC)
    assert await shop.scheduler.run_once() == 0  # not yet
    shop.clock.now = datetime(2027, 2, 28, 8, 0, tzinfo=UTC)
    await shop.scheduler.run_once()
    (greeting,) = shop.emails("Happy birthday")
    assert "Happy birthday, Ada!" in greeting["text"]
    assert shop.ledger.get(entry.key).state is State.SENT
    assert await shop.lifecycle.sweep() == 0


async def test_the_anniversary_thanks_with_newer_products_of_their_categories_never_bought(shop: Shop) -> None:
    await shop.known("c-ann")
    shop.clock.now = datetime(2025, 4, 1, 10, tzinfo=UTC)
    await shop.order("c-other", "b1", "house-blend", "old-favourite")
    shop.clock.now = datetime(2025, 6, 1, 10, tzinfo=UTC)
    await shop.order("c-ann", "a1", "house-blend")
    shop.clock.now = datetime(2026, 5, 20, 10, tzinfo=UTC)
    await shop.order("c-other", "b2", "new-roast")

    shop.clock.now = datetime(2026, 5, 31, 12, tzinfo=UTC)
    assert await shop.lifecycle.sweep() == 1
    (entry,) = shop.entries("c-ann", "purchase_anniversary")
    assert entry.trigger_id == "2026" and entry.due_at == datetime(2026, 6, 1, 9, tzinfo=UTC)
    shop.clock.now = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    await shop.scheduler.run_once()

    (thanks,) = shop.emails("A year together")
    text = thanks["text"]
    assert text.index("New Roast") < text.index("Old Favourite")  # the newer one first
    assert "House Blend" not in text  # what they bought is no discovery
    assert "June 1, 2025" in text


async def test_on_the_running_service_a_milestone_and_a_birthday_go_out_through_kafka_and_the_scheduler(
    sandbox, messenger_settings, run_messenger, send_commerce, wait_for, tmp_path
) -> None:
    """The wiring: `bootstrap` gives the consumer the record and the scheduler the calendar."""
    now = datetime.now(UTC)
    flows_dir = tmp_path / "service-flows"
    (flows_dir / "s1").mkdir(parents=True)
    (flows_dir / "s1" / "vip_milestone.yaml").write_text("holdout_percent: 0\ndelay: 0\ntrigger:\n  orders: [2]\n")
    # Due at midnight UTC today: already due, and within the day a late occasion is still sent.
    (flows_dir / "s1" / "birthday.yaml").write_text('holdout_percent: 0\ntrigger:\n  at: "00:00"\n')
    settings = messenger_settings.model_copy(
        update={
            "flows_dir": flows_dir,
            "links": LinkSettings(signing_key="integration-key", base_url="https://feedback.example"),
            "scheduler_interval_seconds": 0.2,
            "date_sweep_interval_seconds": 0.2,
            "default_timezone": "UTC",
        }
    )

    def wrap(event: Event, customer_id: str, envelope_id: str) -> Envelope:
        return Envelope.wrap(event, store_id="s1", customer_id=customer_id, source="test", time=now, id=envelope_id)

    def placed(order_id: str) -> OrderPlaced:
        return OrderPlaced(order_id=order_id, placed_at=now, total=Decimal("12"), lines=[])

    async with run_messenger(settings):
        await send_commerce([
            wrap(CustomerIdentified(email="vip@example.com", email_marketing_consent=True), "c-vip", "id-vip"),
            wrap(placed("o-1"), "c-vip", "ev-o-1"),
            wrap(placed("o-2"), "c-vip", "ev-o-2"),
            wrap(placed("o-2"), "c-vip", "ev-o-2"),  # redelivered
            wrap(CustomerIdentified(email="bday@example.com", email_marketing_consent=True, first_name="Bo",
                                    birthday=date(2000, now.month, now.day)), "c-bday", "id-bday"),
        ])  # fmt: skip
        gift = await wait_for(lambda: [m for m in sandbox.outbox("sendgrid") if "gift" in m["subject"]])
        greeting = await wait_for(lambda: [m for m in sandbox.outbox("sendgrid") if "birthday" in m["subject"]])

    assert [m["to"] for m in gift] == [["vip@example.com"]] and "Order number 2" in gift[0]["text"]
    assert [m["to"] for m in greeting] == [["bday@example.com"]] and "Happy birthday, Bo!" in greeting[0]["text"]

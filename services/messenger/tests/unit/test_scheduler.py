"""The scheduler through `Messenger.send_due`: later steps, re-deciding at send time, exits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from boomerang.messenger.domain.messages import LedgerEntry, Outbound, State
from boomerang.messenger.service_layer.scheduler import Scheduler
from boomerang.messenger.domain.holdout import in_holdout
from boomerang.shared.events import CheckoutStarted, OrderCancelled, OrderPlaced

from .test_lifecycle_flows import NOW, World, _wrap, customer, feedback, segment_changed


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def world_with_clock() -> tuple[World, Clock, Scheduler]:
    clock = Clock()
    world = World(clock)
    return world, clock, Scheduler(world.messenger, world.delivery, batch_size=10)


def step_state(world: World, flow: str, step: str) -> tuple[State, str | None]:
    (entry,) = [e for e in world.entries(flow) if e.step == step]
    return entry.state, entry.reason


async def test_the_win_back_reminder_goes_out_five_days_after_the_first_email() -> None:
    world, clock, scheduler = world_with_clock()
    ada = customer(held_out=False)
    await world.known(ada)
    await world.messenger.handle(segment_changed(ada))

    clock.now = NOW + timedelta(days=4)
    early = await scheduler.run_once()
    clock.now = NOW + timedelta(days=5)
    claimed = await scheduler.run_once()

    assert (early, claimed) == (0, 1)
    assert [(m.step, m.to) for m in world.email.accepted] == [("we_miss_you", f"{ada}@example.com"), ("last_chance", f"{ada}@example.com")]
    assert step_state(world, "win_back", "last_chance") == (State.SENT, None)
    reminder = next(e for e in world.entries("win_back") if e.step == "last_chance")
    assert reminder.recipient == f"{ada}@example.com" and reminder.provider == "sendgrid"
    free_shipping = [c for c in world.coupons.rows.values() if c.idempotency_key == reminder.key]
    assert len(free_shipping) == 1 and free_shipping[0].code in world.email.accepted[-1].text
    assert world.outcome_types() == [("message.sent", ""), ("message.sent", "")]
    assert len(world.entries("win_back")) == 2  # the last step schedules nothing more
    assert await scheduler.run_once() == 0  # and is not sent twice


async def test_an_order_before_the_reminder_cancels_it_as_exited() -> None:
    world, clock, scheduler = world_with_clock()
    ada = customer(held_out=False)
    await world.known(ada)
    await world.messenger.handle(segment_changed(ada))

    clock.now = NOW + timedelta(days=2)
    order = OrderPlaced(order_id="o-7", placed_at=clock.now, total=Decimal("20"))
    await world.messenger.handle(_wrap(order, ada, "ord-7"))
    clock.now = NOW + timedelta(days=5)
    claimed = await scheduler.run_once()

    assert claimed == 0
    assert [m.flow for m in world.email.accepted] == ["win_back", "receipt"]
    assert step_state(world, "win_back", "last_chance") == (State.SUPPRESSED, "exited")
    assert ("message.suppressed", "exited") in world.outcome_types()


async def test_leaving_the_segment_cancels_the_delayed_step_but_another_dimension_does_not() -> None:
    world, clock, scheduler = world_with_clock()
    ada = customer(held_out=False, flows=("win_back", "vip_welcome"))
    await world.known(ada)
    await world.messenger.handle(segment_changed(ada))

    await world.messenger.handle(segment_changed(ada, "vip", dimension="value", at=NOW + timedelta(hours=1)))
    still = step_state(world, "win_back", "last_chance")
    await world.messenger.handle(segment_changed(ada, "reactivated", at=NOW + timedelta(days=1)))

    assert still == (State.DELAYED, "flow_delay")
    assert step_state(world, "win_back", "last_chance") == (State.SUPPRESSED, "exited")


async def test_a_due_step_is_decided_again_when_it_goes_an_unsubscribe_meanwhile_stops_it() -> None:
    world, clock, scheduler = world_with_clock()
    ada = customer(held_out=False)
    await world.known(ada)
    await world.messenger.handle(segment_changed(ada))
    await world.messenger.handle(feedback(ada, "unsubscribe"))

    clock.now = NOW + timedelta(days=5)
    await scheduler.run_once()

    assert [m.step for m in world.email.accepted] == ["we_miss_you"]
    assert step_state(world, "win_back", "last_chance") == (State.SUPPRESSED, "unsubscribed")
    assert world.outcome_types()[-1] == ("message.suppressed", "unsubscribed")


async def test_a_step_due_outside_the_send_window_is_delayed_again_then_sent_and_the_next_scheduled() -> None:
    world, clock, scheduler = world_with_clock()
    ada = customer(held_out=False, flows=("neutral_nurture",))
    await world.known(ada)
    await world.messenger.handle(segment_changed(ada, "neutral"))  # due in a day, Sunday noon

    clock.now = NOW + timedelta(days=1, hours=10)  # the scheduler runs late: 22:00, window closed
    await scheduler.run_once()
    again = next(e for e in world.entries("neutral_nurture") if e.step == "getting_started")
    clock.now = again.due_at  # type: ignore[assignment]
    await scheduler.run_once()

    assert (again.state, again.reason) == (State.DELAYED, "send_window")
    assert again.due_at == datetime(2025, 3, 3, 9, tzinfo=UTC)  # Monday 09:00, the window opening
    assert [m.step for m in world.email.accepted] == ["getting_started"]
    assert world.outcome_types() == [("message.sent", "")]
    next_step = next(e for e in world.entries("neutral_nurture") if e.step == "how_to")
    assert (next_step.state, next_step.due_at) == (State.DELAYED, again.due_at + timedelta(days=4))


async def test_a_claimed_entry_goes_to_one_scheduler_only() -> None:
    world, clock, scheduler = world_with_clock()
    other = Scheduler(world.messenger, world.delivery, batch_size=10)
    ada = customer(held_out=False)
    await world.known(ada)
    await world.messenger.handle(segment_changed(ada))
    clock.now = NOW + timedelta(days=5)

    claims = [world.delivery.claim_due(10, timedelta(minutes=5)), world.delivery.claim_due(10, timedelta(minutes=5))]
    later = await other.run_once()

    assert [len(c) for c in claims] == [1, 0] and later == 0
    assert [m.step for m in world.email.accepted] == ["we_miss_you"]


async def test_a_claim_abandoned_by_a_crash_is_taken_again_after_the_lease_and_sent_once() -> None:
    world, clock, scheduler = world_with_clock()
    ada = customer(held_out=False)
    await world.known(ada)
    await world.messenger.handle(segment_changed(ada))
    clock.now = NOW + timedelta(days=5)
    (lost,) = world.delivery.claim_due(10, timedelta(minutes=5))  # its worker dies here

    before_lease = await scheduler.run_once()
    clock.now += timedelta(minutes=6)
    after_lease = await scheduler.run_once()

    assert (before_lease, after_lease) == (0, 1)
    assert [m.step for m in world.email.accepted] == ["we_miss_you", "last_chance"]
    assert step_state(world, "win_back", "last_chance") == (State.SENT, None)
    assert lost.state is State.PENDING


async def claimed_and_written_down(world: World, clock: Clock) -> tuple[str, LedgerEntry]:
    """A nurture guide's customer, and the guide claimed when due, its message written down
    before the provider call; then its worker dies."""
    ada = customer(held_out=False, flows=("neutral_nurture",))
    await world.known(ada)
    await world.messenger.handle(segment_changed(ada, "neutral"))
    clock.now = NOW + timedelta(days=1)
    (claimed,) = world.delivery.claim_due(10, timedelta(minutes=5))
    world.ledger.record_message(claimed.key, claimed.channel, f"{ada}@example.com", "d", "sendgrid", clock.now)
    return ada, claimed


async def test_a_crash_after_the_provider_took_the_message_settles_it_as_sent_without_a_second_send() -> None:
    world, clock, scheduler = world_with_clock()
    ada, claimed = await claimed_and_written_down(world, clock)
    await world.email.send(replace(world_message(claimed), to=f"{ada}@example.com"))  # handed over, then died

    clock.now += timedelta(minutes=6)
    await scheduler.run_once()

    assert len(world.email.accepted) == 1
    assert step_state(world, "neutral_nurture", "getting_started") == (State.SENT, None)
    assert world.outcome_types() == [("message.sent", "")]
    how_to = next(e for e in world.entries("neutral_nurture") if e.step == "how_to")
    assert how_to.state is State.DELAYED  # the series goes on


async def test_a_crashed_scheduled_send_missing_at_the_provider_is_looked_up_again_past_its_lag() -> None:
    world, clock, scheduler = world_with_clock()
    world.email.lookup_lag = timedelta(minutes=10)  # the lease (5 minutes) is shorter
    await claimed_and_written_down(world, clock)  # the provider never got it

    clock.now += timedelta(minutes=6)
    await scheduler.run_once()

    assert step_state(world, "neutral_nurture", "getting_started") == (State.DELAYED, "awaiting_lookup")
    assert world.email.accepted == []
    clock.now += timedelta(minutes=10)
    await scheduler.run_once()  # the miss is proof now: decided again and sent, once
    assert [m.step for m in world.email.accepted] == ["getting_started"]
    assert step_state(world, "neutral_nurture", "getting_started") == (State.SENT, None)


def world_message(entry) -> Outbound:
    return Outbound(entry.message_id, entry.store_id, entry.customer_id, entry.flow, entry.step, entry.channel, "", "hi")


async def test_the_feedback_request_goes_seven_days_after_the_order_and_not_for_a_cancelled_one() -> None:
    world, clock, scheduler = world_with_clock()
    ada = customer(held_out=False)
    await world.known(ada, first_name="Ada")
    line = {"product_id": "mug-1", "name": "Blue mug", "quantity": 1, "unit_price": "12"}
    for order_id in ("o-1", "o-2"):
        order = OrderPlaced(order_id=order_id, placed_at=NOW, total=Decimal("12"), lines=[line])
        await world.messenger.handle(_wrap(order, ada, f"ord-{order_id}"))
    cancelled = OrderCancelled(order_id="o-2", cancelled_at=NOW + timedelta(days=1))
    await world.messenger.handle(_wrap(cancelled, ada, "cancel-o-2"))

    clock.now = NOW + timedelta(days=6, hours=23)
    early = await scheduler.run_once()
    clock.now = NOW + timedelta(days=7)
    await scheduler.run_once()

    surveys = [m for m in world.email.accepted if m.flow == "feedback_request"]
    assert early == 0 and len(surveys) == 1
    assert surveys[0].subject == "How was your order?" and "o-1" in surveys[0].text
    assert "Blue mug" in surveys[0].text and "https://feedback.example" in surveys[0].text
    by_order = {e.trigger_id: (e.state, e.reason) for e in world.entries("feedback_request")}
    assert by_order == {"o-1": (State.SENT, None), "o-2": (State.SUPPRESSED, "exited")}


async def test_an_abandoned_checkout_gets_a_reminder_four_hours_later_unless_an_order_comes_first() -> None:
    world, clock, scheduler = world_with_clock()
    ada = customer(held_out=False, flows=("checkout_abandonment",))
    bob = next(c for c in (f"b{i}" for i in range(10_000)) if not in_holdout("s1", c, "checkout_abandonment", 10))
    for who in (ada, bob):
        await world.known(who)
        started = CheckoutStarted(
            checkout_id=f"ck-{who}", started_at=NOW, total=Decimal("30"), recovery_url="https://shop.example/ck"
        )
        await world.messenger.handle(_wrap(started, who, f"ck-{who}"))
    clock.now = NOW + timedelta(hours=2)
    await world.messenger.handle(_wrap(OrderPlaced(order_id="o-b", placed_at=clock.now, total=Decimal("30")), bob, "ord-b"))

    clock.now = NOW + timedelta(hours=4)
    await scheduler.run_once()

    (reminder,) = [m for m in world.email.accepted if m.flow == "checkout_abandonment"]
    assert reminder.customer_id == ada and "https://shop.example/ck" in reminder.text
    states = {e.customer_id: (e.state, e.reason) for e in world.entries("checkout_abandonment")}
    assert states == {ada: (State.SENT, None), bob: (State.SUPPRESSED, "exited")}


async def test_a_backlog_counts_the_wait_from_the_checkout_and_a_stale_one_is_not_sent() -> None:
    world, clock, scheduler = world_with_clock()
    ada = customer(held_out=False, flows=("checkout_abandonment",))
    bob = next(c for c in (f"b{i}" for i in range(10_000)) if not in_holdout("s1", c, "checkout_abandonment", 10))
    for who, started_at in ((ada, NOW - timedelta(hours=3)), (bob, NOW - timedelta(days=2))):
        await world.known(who)
        started = CheckoutStarted(checkout_id=f"ck-{who}", started_at=started_at, total=Decimal("30"))
        envelope = _wrap(started, who, f"ck-{who}").model_copy(update={"time": started_at})
        await world.messenger.handle(envelope)  # read now, hours or days after it happened

    states = {e.customer_id: (e.state, e.reason, e.due_at) for e in world.entries("checkout_abandonment")}
    assert states[ada] == (State.DELAYED, "flow_delay", NOW + timedelta(hours=1))
    assert states[bob] == (State.SUPPRESSED, "too_late", None)
    assert ("message.suppressed", "too_late") in world.outcome_types()

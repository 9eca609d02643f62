"""Segment-started flows, the send policy and coupons through `Messenger.handle`, with
hand-written fakes of the ledger, providers, publisher, suppression list and coupon store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from boomerang.messenger.adapters.rendering import TemplateRenderer
from boomerang.messenger.domain.flows import Channel
from boomerang.messenger.domain.holdout import in_holdout
from boomerang.messenger.domain.messages import LedgerEntry, State
from boomerang.messenger.domain.stores import StoreProfile
from boomerang.messenger.domain.suppressions import EMPTY, Change, SuppressionList
from boomerang.messenger.service_layer.composing import Composer
from boomerang.messenger.service_layer.delivery import Delivery
from boomerang.messenger.service_layer.handlers import Messenger
from boomerang.messenger.service_layer.retry import RetryPolicy
from boomerang.shared.events import (
    CustomerIdentified,
    Envelope,
    OrderPlaced,
    ProviderEventReceived,
    SegmentChanged,
)
from boomerang.shared.links import LinkSettings

from .fakes import (
    FakeCampaigns,
    FakeContacts,
    FakeCoupons,
    FakeLedger,
    FakeOutcomes,
    FakeProvider,
    FakeSegmentMembers,
)

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)  # a Saturday noon: inside every default send window
SHOP = "https://shop.example"


def clock() -> datetime:
    return NOW


def customer(*, held_out: bool, flows: tuple[str, ...] = ("win_back",)) -> str:
    """A customer id that is (or is not) in the 10 % control group of every one of `flows`."""
    return next(
        f"c{i}"
        for i in range(10_000)
        if all(in_holdout("s1", f"c{i}", flow, 10) is held_out for flow in flows)
    )


class FakeSuppressions:
    def __init__(self) -> None:
        self.lists: dict[tuple[str, str], SuppressionList] = {}

    def get(self, store_id: str, customer_id: str) -> SuppressionList:
        return self.lists.get((store_id, customer_id), EMPTY)

    def apply(self, store_id: str, customer_id: str, change: Change) -> None:
        self.lists[(store_id, customer_id)] = self.get(store_id, customer_id).apply(change)


class World:
    def __init__(self, clock=clock) -> None:
        self.ledger = FakeLedger()
        self.email = FakeProvider("sendgrid")
        self.sms = FakeProvider("twilio")
        self.outcomes = FakeOutcomes()
        self.contacts = FakeContacts()
        self.suppressions = FakeSuppressions()
        self.coupons = FakeCoupons()
        self.segment_members = FakeSegmentMembers()
        self.campaigns = FakeCampaigns()
        self.delivery = delivery = Delivery(
            self.ledger,
            {Channel.EMAIL: self.email, Channel.SMS: self.sms},
            self.outcomes,
            clock,
            RetryPolicy(attempts=2, initial_s=0.001, max_s=0.01),
        )
        composer = Composer(
            TemplateRenderer(),
            lambda store: StoreProfile(store, "Shop", SHOP, "help@shop.example", coupon_prefix="ACME"),
            LinkSettings(signing_key="test-key", base_url="https://feedback.example"),
        )
        self.messenger = Messenger(
            self.contacts,
            delivery,
            composer,
            clock,
            suppressions=self.suppressions,
            coupons=self.coupons,
            segment_members=self.segment_members,
            campaigns=self.campaigns,
        )

    async def known(self, customer_id: str, **data) -> None:
        data = {"email": f"{customer_id}@example.com", "email_marketing_consent": True, **data}
        await self.messenger.handle(_wrap(CustomerIdentified(**data), customer_id, f"id-{customer_id}"))

    def entries(self, flow: str) -> list[LedgerEntry]:
        return [e for e in self.ledger.rows.values() if e.flow == flow]

    def outcome_types(self) -> list[tuple[str, str]]:
        return [(e.type, e.data.get("reason", "")) for e in self.outcomes.envelopes]


def _wrap(event, customer_id: str, envelope_id: str) -> Envelope:
    return Envelope.wrap(event, store_id="s1", customer_id=customer_id, source="test", time=NOW, id=envelope_id)


def segment_changed(customer_id: str, to: str = "lapsed", *, dimension: str = "lifecycle", at=NOW) -> Envelope:
    event = SegmentChanged(
        from_segment="active" if dimension == "lifecycle" else "regular",
        to_segment=to,
        reason="test",
        changed_at=at,
        orders=3,
        revenue=Decimal("120"),
        dimension=dimension,
    )
    return _wrap(event, customer_id, f"seg-{customer_id}-{to}-{at.isoformat()}")


def feedback(customer_id: str, kind: str, provider: str = "sendgrid", **data) -> Envelope:
    event = ProviderEventReceived(
        provider=provider, provider_event_id=f"pe-{kind}", kind=kind, occurred_at=NOW, **data
    )
    return _wrap(event, customer_id, f"fb-{customer_id}-{kind}")


async def test_a_lapsed_customer_gets_one_win_back_email_with_a_stored_coupon() -> None:
    world = World()
    ada = customer(held_out=False)
    await world.known(ada, first_name="Ada")

    await world.messenger.handle(segment_changed(ada))

    (message,) = world.email.accepted
    (coupon,) = world.coupons.rows.values()
    assert (message.flow, message.step, message.to) == ("win_back", "we_miss_you", f"{ada}@example.com")
    assert coupon.code.startswith("ACME-SAVE-") and coupon.percent == 15
    assert coupon.code in message.text and coupon.code in (message.html or "")
    entry, reminder = world.entries("win_back")
    assert coupon.idempotency_key == entry.key and coupon.message_id == entry.message_id
    assert entry.state is State.SENT and entry.purpose == "marketing" and entry.priority == 70
    # The second step waits in the ledger for the scheduler, five days after the first went out.
    assert (reminder.step, reminder.state, reminder.due_at) == ("last_chance", State.DELAYED, NOW + timedelta(days=5))
    assert dict(message.headers)["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert world.outcome_types() == [("message.sent", "")]
    assert world.sms.accepted == []


async def test_a_holdout_customer_gets_nothing_and_it_is_published_as_holdout() -> None:
    world = World()
    held = customer(held_out=True)
    await world.known(held)

    await world.messenger.handle(segment_changed(held))

    assert world.email.accepted == [] and world.sms.accepted == []
    assert world.coupons.rows == {}
    assert world.outcome_types() == [("message.suppressed", "holdout")]
    (entry,) = world.entries("win_back")
    assert (entry.state, entry.reason) == (State.SUPPRESSED, "holdout")


async def test_an_unsubscribe_from_feedback_suppresses_marketing_but_not_the_receipt() -> None:
    world = World()
    ada = customer(held_out=False)
    await world.known(ada)

    await world.messenger.handle(feedback(ada, "unsubscribe"))
    await world.messenger.handle(segment_changed(ada))
    await world.messenger.handle(
        _wrap(OrderPlaced(order_id="o-1", placed_at=NOW, total=Decimal("10")), ada, "ord-1")
    )

    assert world.outcome_types() == [("message.suppressed", "unsubscribed"), ("message.sent", "")]
    assert [m.flow for m in world.email.accepted] == ["receipt"]


async def test_a_resubscribe_after_the_unsubscribe_lets_marketing_through_again() -> None:
    world = World()
    ada = customer(held_out=False)
    await world.known(ada)
    await world.messenger.handle(feedback(ada, "unsubscribe"))

    resubscribe = ProviderEventReceived(
        provider="sendgrid", provider_event_id="pe-r", kind="group_resubscribe", occurred_at=NOW + timedelta(1)
    )
    await world.messenger.handle(_wrap(resubscribe, ada, "fb-resub"))
    await world.messenger.handle(segment_changed(ada))

    assert [m.flow for m in world.email.accepted] == ["win_back"]


async def test_a_hard_bounce_blocks_the_address_the_bounced_message_went_to() -> None:
    world = World()
    ada = customer(held_out=False)
    await world.known(ada)
    await world.messenger.handle(
        _wrap(OrderPlaced(order_id="o-1", placed_at=NOW, total=Decimal("10")), ada, "ord-1")
    )
    (receipt,) = world.email.accepted

    await world.messenger.handle(feedback(ada, "bounce", message_id=receipt.message_id, reason="550 no such user"))
    await world.messenger.handle(segment_changed(ada))

    assert world.outcome_types()[-1] == ("message.suppressed", "hard_bounce")
    ((_, listed),) = world.suppressions.lists.items()
    assert [c.address for c in listed.active] == [f"{ada}@example.com"]


async def test_a_full_cap_suppresses_the_second_marketing_email_of_the_day() -> None:
    world = World()
    ada = customer(held_out=False, flows=("win_back", "vip_welcome"))
    await world.known(ada)
    await world.messenger.handle(segment_changed(ada, "vip", dimension="value"))

    await world.messenger.handle(segment_changed(ada, "lapsed"))

    assert [m.flow for m in world.email.accepted] == ["vip_welcome"]
    assert world.outcome_types() == [("message.sent", ""), ("message.suppressed", "frequency_cap")]
    (win_back,) = world.entries("win_back")
    assert win_back.reason == "frequency_cap"
    assert len(world.coupons.rows) == 1  # the suppressed win-back issued no coupon


async def test_a_redelivered_segment_change_sends_nothing_more() -> None:
    world = World()
    ada = customer(held_out=False)
    held = customer(held_out=True)
    for who in (ada, held):
        await world.known(who)
        await world.messenger.handle(segment_changed(who))

    for who in (ada, held):
        await world.messenger.handle(segment_changed(who))

    assert len(world.email.accepted) == 1 and len(world.coupons.rows) == 1
    assert all(e.duplicate_hits == 1 for e in world.ledger.rows.values() if e.step != "last_chance")
    assert world.outcome_types() == [("message.sent", ""), ("message.suppressed", "holdout")]


async def test_a_holdout_in_the_ledger_is_not_decided_again_when_the_flow_changes() -> None:
    world = World()
    held = customer(held_out=True)
    await world.known(held)
    await world.messenger.handle(segment_changed(held))
    flows = world.messenger._flow_files.for_store("s1")
    no_holdout = replace(flows, flows=tuple(f.model_copy(update={"holdout_percent": 0}) for f in flows.flows))
    world.messenger._flow_files = type("Fixed", (), {"for_store": lambda self, store: no_holdout})()

    await world.messenger.handle(segment_changed(held))

    assert world.email.accepted == []
    (entry,) = world.entries("win_back")
    assert entry.reason == "holdout" and entry.duplicate_hits == 1


async def test_a_delayed_first_step_is_recorded_as_delayed_and_neither_sent_nor_published() -> None:
    world = World()
    ada = customer(held_out=False, flows=("neutral_nurture",))
    await world.known(ada)

    await world.messenger.handle(segment_changed(ada, "neutral"))

    assert world.email.accepted == [] and world.outcomes.envelopes == []
    (entry,) = world.entries("neutral_nurture")
    assert (entry.state, entry.reason, entry.due_at) == (State.DELAYED, "flow_delay", NOW + timedelta(days=1))


async def test_a_change_read_late_counts_the_delay_from_when_it_happened_and_a_later_exit_leaves_it_due() -> None:
    # Read 30 hours late (a backlog; on event time, a segmenter behind the replay): the step is
    # due a day after the change, and a change away that happened after that moment does not
    # cancel it (it was due first); one that happened before it does.
    world = World()
    stays, leaves = [c for c in (f"c{i}" for i in range(50)) if not in_holdout("s1", c, "neutral_nurture", 10)][:2]
    for who in (stays, leaves):
        await world.known(who)
        await world.messenger.handle(_changed_at(who, "neutral", NOW - timedelta(hours=30)))
    assert {e.due_at for e in world.entries("neutral_nurture")} == {NOW - timedelta(hours=6)}

    await world.messenger.handle(_changed_at(stays, "at_risk", NOW - timedelta(hours=2)))
    await world.messenger.handle(_changed_at(leaves, "at_risk", NOW - timedelta(hours=10)))

    states = {e.customer_id: (e.state, e.reason) for e in world.entries("neutral_nurture")}
    assert states == {stays: (State.DELAYED, "flow_delay"), leaves: (State.SUPPRESSED, "exited")}


def _changed_at(customer_id: str, to: str, at: datetime) -> Envelope:
    """A lifecycle change stamped, as the segmenter stamps it, with its own business time."""
    event = SegmentChanged(
        from_segment="active", to_segment=to, reason="test", changed_at=at, orders=3,
        revenue=Decimal("120"), dimension="lifecycle",
    )  # fmt: skip
    return Envelope.wrap(event, store_id="s1", customer_id=customer_id, source="test", time=at, id=f"seg-{customer_id}-{to}")


async def test_a_customer_outside_the_audience_is_suppressed_as_such() -> None:
    world = World()
    ada = customer(held_out=False)
    await world.known(ada)
    event = SegmentChanged(
        from_segment="new", to_segment="lapsed", reason="test", changed_at=NOW, orders=0,
        revenue=Decimal(0), dimension="lifecycle",
    )  # fmt: skip

    await world.messenger.handle(_wrap(event, ada, "seg-0"))

    assert world.email.accepted == []
    assert world.outcome_types() == [("message.suppressed", "not_in_audience")]


async def test_an_order_with_the_coupon_redeems_it_once() -> None:
    world = World()
    ada = customer(held_out=False)
    await world.known(ada)
    await world.messenger.handle(segment_changed(ada))
    (coupon,) = world.coupons.rows.values()

    order = OrderPlaced(order_id="o-9", placed_at=NOW, total=Decimal("30"), coupon=coupon.code.lower())
    await world.messenger.handle(_wrap(order, ada, "ord-9"))

    redeemed = world.coupons.get("s1", coupon.code)
    assert redeemed is not None and redeemed.redeemed_order_id == "o-9"

"""Broadcasts: the audience rules (pure), and a campaign through the scheduler and the policy."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from boomerang.messenger.domain.audience import CustomerFacts
from boomerang.messenger.domain.broadcasts import Broadcast, InvalidBroadcast, Member, check, recipients
from boomerang.messenger.domain.content import Campaign
from boomerang.messenger.domain.flow_definitions import Audience
from boomerang.messenger.domain.holdout import in_holdout
from boomerang.messenger.domain.messages import State
from boomerang.messenger.flows import default_flows
from boomerang.messenger.service_layer.broadcasts import start_broadcast
from boomerang.messenger.service_layer.scheduler import Scheduler

from .test_lifecycle_flows import NOW, World, segment_changed
from .test_scheduler import Clock

HOLIDAYS = Campaign(
    subject="Early access: our holiday collection",
    heading="Before anyone else",
    paragraphs=["Our holiday collection is here.", "Loyal customers see it first."],
    cta_label="See the collection",
    cta_url="https://shop.example/holidays",
)
FLOWS = default_flows()


def broadcast(campaign_id: str = "holidays-2026", **kw) -> Broadcast:
    return Broadcast("s1", campaign_id, kw.pop("flow", "broadcast"), HOLIDAYS, kw.pop("send_at", NOW), **kw)


def member(customer_id: str, *segments: str, orders: int = 2) -> Member:
    return Member(customer_id, CustomerFacts(frozenset(segments), orders=orders, net_revenue=Decimal(100)))


# --- the audience --------------------------------------------------------------------------------


def test_the_flow_audience_applies_unless_the_operator_names_segments() -> None:
    flow = FLOWS.get("broadcast")
    assert check(broadcast(), flow).segments_any == ("active", "reactivated", "vip")
    named = check(broadcast(segments_any=("vip",), segments_none=("at_risk",)), flow)
    assert (named.segments_any, named.segments_none) == (("vip",), ("at_risk",))


@pytest.mark.parametrize(
    ("wrong", "field"),
    [
        ({"campaign_id": "Holidays 2026!"}, "campaign_id"),
        ({"flow": "win_back"}, "flow"),
        ({"segments_any": ("vip", "loyalists")}, "segments_any"),
        ({"segments_none": ("whales",)}, "segments_none"),
        ({"segments_any": ()}, "segments_any"),
    ],
)
def test_a_wrong_broadcast_names_the_field(wrong: dict, field: str) -> None:
    campaign_id = wrong.pop("campaign_id", "holidays-2026")
    flow = FLOWS.get(wrong.pop("flow", "broadcast"))
    with pytest.raises(InvalidBroadcast) as raised:
        check(broadcast(campaign_id, **wrong), flow)
    assert raised.value.field == field and raised.value.status_code == 400


def test_recipients_are_the_members_the_audience_takes() -> None:
    audience = Audience(segments_any=("vip", "active"), segments_none=("at_risk",), min_orders=2)
    members = [
        member("a", "vip"),
        member("b", "active", "regular"),
        member("c", "vip", "at_risk"),  # excluded segment
        member("d", "active", orders=1),  # too few orders
        member("e", "lapsed"),
    ]
    assert [m.customer_id for m in recipients(audience, members)] == ["a", "b"]


# --- a campaign through the messenger --------------------------------------------------------------


def not_held_out(prefix: str, count: int) -> list[str]:
    ids = (f"{prefix}{i}" for i in range(1000))
    return [c for c in ids if not in_holdout("s1", c, "broadcast", 10)][:count]


async def test_a_broadcast_reaches_its_segments_once_under_the_policy() -> None:
    clock = Clock()
    world = World(clock)
    vip, active, reactivated, no_consent, lapsed = not_held_out("b", 5)
    for customer_id in (vip, active, reactivated, lapsed):
        await world.known(customer_id)
    await world.known(no_consent, email_marketing_consent=False)
    for customer_id, segment, dimension in (
        (vip, "vip", "value"),  # the VIP welcome goes out now: the cap holds the campaign back
        (active, "active", "lifecycle"),
        (reactivated, "reactivated", "lifecycle"),
        (no_consent, "active", "lifecycle"),
        (lapsed, "lapsed", "lifecycle"),
    ):
        await world.messenger.handle(segment_changed(customer_id, segment, dimension=dimension))
    # A late replay of an older change does not move the active customer back.
    await world.messenger.handle(segment_changed(active, "at_risk", at=NOW - timedelta(days=30)))
    scheduler = Scheduler(world.messenger, world.delivery, batch_size=10)
    sent_before = len(world.email.accepted)  # what the segment changes started (win-back, VIP welcome)

    started = start_broadcast(broadcast(), FLOWS, world.segment_members, world.campaigns, world.ledger, NOW)
    again = start_broadcast(broadcast(), FLOWS, world.segment_members, world.campaigns, world.ledger, NOW)
    clock.now = NOW + timedelta(minutes=1)
    claimed = await scheduler.run_once()

    assert (started.audience, started.scheduled, started.already_scheduled) == (4, 4, 0)
    assert (again.scheduled, again.already_scheduled) == (0, 4)
    assert claimed == 4
    campaign_emails = world.email.accepted[sent_before:]
    assert sorted(m.to for m in campaign_emails) == sorted([f"{active}@example.com", f"{reactivated}@example.com"])
    assert {m.subject for m in campaign_emails} == {HOLIDAYS.subject}
    assert all("Loyal customers see it first." in m.text for m in campaign_emails)
    assert all(dict(m.headers).get("List-Unsubscribe") for m in campaign_emails)
    states = {e.customer_id: (e.state, e.reason) for e in world.entries("broadcast")}
    assert states[no_consent] == (State.SUPPRESSED, "no_consent")
    assert states[vip] == (State.SUPPRESSED, "frequency_cap")
    assert lapsed not in states
    assert await scheduler.run_once() == 0


async def test_the_control_group_gets_no_broadcast_and_is_recorded() -> None:
    world = World()
    held_out = next(f"h{i}" for i in range(1000) if in_holdout("s1", f"h{i}", "broadcast", 10))
    await world.known(held_out)
    await world.messenger.handle(segment_changed(held_out, "active"))

    start_broadcast(broadcast(), FLOWS, world.segment_members, world.campaigns, world.ledger, NOW)
    await Scheduler(world.messenger, world.delivery).run_once()

    (entry,) = world.entries("broadcast")
    assert (entry.state, entry.reason) == (State.SUPPRESSED, "holdout")
    assert ("message.suppressed", "holdout") in world.outcome_types()


def test_a_broadcast_later_waits_for_its_time_and_keeps_its_first_content() -> None:
    world = World()
    later = NOW + timedelta(days=2)
    world.segment_members.record("s1", "c1", "lifecycle", "active", NOW, 2, Decimal(50))

    start_broadcast(broadcast(send_at=later), FLOWS, world.segment_members, world.campaigns, world.ledger, NOW)
    changed = Broadcast("s1", "holidays-2026", "broadcast", HOLIDAYS.model_copy(update={"heading": "x"}), NOW)
    start_broadcast(changed, FLOWS, world.segment_members, world.campaigns, world.ledger, NOW)

    (entry,) = world.entries("broadcast")
    assert (entry.state, entry.due_at, entry.reason) == (State.DELAYED, later, "broadcast")
    assert world.campaigns.get("s1", "holidays-2026").campaign == HOLIDAYS  # type: ignore[union-attr]


def test_a_rejected_broadcast_stores_nothing() -> None:
    world = World()
    with pytest.raises(InvalidBroadcast):
        start_broadcast(
            broadcast(segments_any=("nobody",)), FLOWS, world.segment_members, world.campaigns, world.ledger, NOW
        )
    assert world.campaigns.rows == {} and world.ledger.rows == {}

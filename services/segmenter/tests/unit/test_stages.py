"""The customer state machine under the default policy and store overrides.

Default policy (policies/default.yaml): new 30 days; at risk after 2 x median gap within
30-180 days, one-time buyers after 60; lapsed after 4 x median gap within 90-365, one-time
buyers after 180; reactivated 60 days; engaged within 14 days holds off at-risk; R+F+M <= 8 is
neutral; VIP from percentile 90, until below 80; without scores VIP from 500 net, until below 400.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boomerang.segmenter.adapters.policy_files import default_document, default_policy
from boomerang.segmenter.domain import CustomerState, Dimension, Segment
from boomerang.segmenter.domain.facts import observe
from boomerang.segmenter.domain.policy import LifecyclePolicy, build_policy
from boomerang.segmenter.domain.stages import (
    Change,
    Standing,
    advance,
    cadence,
    decide,
    lifecycle_stage,
    next_change_at,
    value_tier,
)
from boomerang.shared.events import OrderCancelled, OrderPlaced, OrderRefunded, PageViewed, ProviderEventReceived

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)
POLICY = default_policy()
US = timedelta(microseconds=1)
LIFECYCLE, VALUE = Dimension.LIFECYCLE, Dimension.VALUE


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def policy_with(**override) -> LifecyclePolicy:
    return build_policy(default_document(), override, source="test override")


def order(state: CustomerState, at_day: float, total: str = "50", order_id: str | None = None) -> CustomerState:
    event = OrderPlaced(order_id=order_id or f"o-{at_day}", placed_at=day(at_day), total=Decimal(total))
    return observe(state, event, day(at_day))


def visit(state: CustomerState, at_day: float) -> CustomerState:
    return observe(state, PageViewed(path="/"), day(at_day))


def click(state: CustomerState, at_day: float) -> CustomerState:
    event = ProviderEventReceived(provider="sendgrid", provider_event_id=f"e{at_day}", kind="click", occurred_at=day(at_day))
    return observe(state, event, day(at_day))


def buyer(*order_days: float, total: str = "50") -> CustomerState:
    state = CustomerState("store-1", "cust-1")
    for d in order_days:
        state = order(state, d, total)
    return state


def stage_at(state: CustomerState, at_day: float, standing: Standing | None = None, policy: LifecyclePolicy = POLICY) -> str:
    return lifecycle_stage(state, standing, policy, day(at_day)).segment


def settled(state: CustomerState, at_day: float, standing: Standing | None = None, policy: LifecyclePolicy = POLICY) -> CustomerState:
    """The state with its segments brought up to `at_day`."""
    return advance(state, standing, policy, day(at_day))[0]


def moves(changes: list[Change]) -> list[tuple[str | None, str, str, datetime]]:
    return [(c.from_segment, c.to_segment, c.reason, c.at) for c in changes]


# --- each state -------------------------------------------------------------------------------


def test_a_customer_who_only_visits_is_a_prospect():
    state = visit(CustomerState("store-1", "cust-1"), 0)
    [change] = decide(state, None, POLICY, day(0))
    assert (change.dimension, change.from_segment, change.to_segment, change.reason) == (LIFECYCLE, None, Segment.PROSPECT, "no_order_yet")
    assert next_change_at(settled(state, 0), None, POLICY, day(0)) is None  # prospects wait for an order


def test_the_first_order_makes_a_prospect_new():
    state = order(settled(visit(CustomerState("store-1", "cust-1"), 0), 0), 3)
    [change] = decide(state, None, POLICY, day(3))
    assert (change.from_segment, change.to_segment, change.reason, change.at) == (Segment.PROSPECT, Segment.NEW, "first_order", day(3))


def test_new_lasts_new_days_from_the_first_order():
    state = buyer(0, 10)  # a second order does not end the welcome period
    assert stage_at(state, 30 - 1e-6) == Segment.NEW
    assert stage_at(state, 30) == Segment.ACTIVE


def test_active_means_buying_at_their_usual_pace():
    verdict = lifecycle_stage(buyer(0, 20, 40), None, POLICY, day(50))
    assert (verdict.segment, verdict.reason) == (Segment.ACTIVE, "ordering_at_usual_pace")


def test_one_time_buyer_goes_at_risk_then_lapsed_by_days_since_their_only_order():
    state = buyer(0)
    assert cadence(state, POLICY).median_gap is None
    assert [stage_at(state, d) for d in (29, 30, 59.9, 60, 179.9, 180, 1000)] == [
        Segment.NEW, Segment.ACTIVE, Segment.ACTIVE, Segment.AT_RISK, Segment.AT_RISK, Segment.LAPSED, Segment.LAPSED,
    ]  # fmt: skip
    assert lifecycle_stage(state, None, POLICY, day(60)).reason == "one_time_buyer_past_at_risk_days"
    assert lifecycle_stage(state, None, POLICY, day(180)).reason == "one_time_buyer_past_lapsed_days"


def test_one_time_buyer_lapses_on_the_policy_not_on_p_alive():
    # BG/NBD says p_alive = 1 for every one-time buyer; the policy lapses them anyway.
    state = settled(buyer(0), 1, Standing(5, 1, 3, clv_percentile=50))
    state, changes = advance(state, Standing(5, 1, 3, clv_percentile=50), POLICY, day(400))
    assert [c.to_segment for c in changes] == [Segment.ACTIVE, Segment.AT_RISK, Segment.LAPSED]


def test_repeat_buyer_horizons_follow_their_own_median_gap():
    state = buyer(0, 10, 30, 50)  # gaps 10, 20, 20: median 20 days
    cad = cadence(state, POLICY)
    assert cad.median_gap == timedelta(days=20)
    assert cad.at_risk_after == timedelta(days=40)  # 2 x 20
    assert cad.lapsed_after == timedelta(days=90)  # 4 x 20 = 80, raised to min_days 90
    assert [stage_at(state, d) for d in (89.9, 90, 139.9, 140)] == [Segment.ACTIVE, Segment.AT_RISK, Segment.AT_RISK, Segment.LAPSED]
    assert lifecycle_stage(state, None, POLICY, day(90)).reason == "past_at_risk_horizon"
    assert lifecycle_stage(state, None, POLICY, day(140)).reason == "past_lapsed_horizon"


def test_a_remembered_cadence_is_only_reused_for_the_same_orders_and_policy():
    state = buyer(0, 10, 30, 50)
    assert cadence(state, POLICY) is cadence(visit(state, 60), POLICY)  # a visit keeps the orders
    stricter = policy_with(at_risk={"intervals": 3})
    assert cadence(state, stricter).at_risk_after == timedelta(days=60)  # 3 x 20, not the default's 40
    assert cadence(state, POLICY).at_risk_after == timedelta(days=40)
    assert cadence(order(state, 51), POLICY).last_order_at == day(51)


@pytest.mark.parametrize(
    ("gap", "at_risk", "lapsed"),
    [(5, 30, 90), (20, 40, 90), (30, 60, 120), (80, 160, 320), (100, 180, 365)],
)
def test_horizons_are_bounded_by_min_and_max_days(gap, at_risk, lapsed):
    cad = cadence(buyer(0, gap), POLICY)
    assert (cad.at_risk_after, cad.lapsed_after) == (timedelta(days=at_risk), timedelta(days=lapsed))


def test_an_engaged_customer_past_their_horizon_is_neutral_until_the_engagement_runs_out():
    state = visit(buyer(0), 55)  # one-time buyer, at risk from day 60; visited on day 55
    verdict = lifecycle_stage(state, None, POLICY, day(60))
    assert (verdict.segment, verdict.reason) == (Segment.NEUTRAL, "engaged_without_ordering")
    assert stage_at(state, 69 - 1e-6) == Segment.NEUTRAL
    assert stage_at(state, 69) == Segment.AT_RISK  # 55 + 14
    assert stage_at(click(state, 100), 110) == Segment.NEUTRAL  # a click counts too


def test_engagement_before_the_last_order_does_not_hold_off_at_risk():
    state = order(visit(buyer(0), 5), 6)  # visit, then order: gap 6 -> at risk after 30 days
    window = policy_with(neutral={"engaged_within_days": 60})
    assert stage_at(state, 36, policy=window) == Segment.AT_RISK


def test_engagement_does_not_hold_off_lapsed():
    assert stage_at(visit(buyer(0), 175), 180) == Segment.LAPSED


def test_mid_rfm_buyers_are_neutral_and_the_rest_active():
    state = buyer(0, 20, 40)
    mid = lifecycle_stage(state, Standing(3, 2, 2), POLICY, day(45))
    assert (mid.segment, mid.reason) == (Segment.NEUTRAL, "mid_rfm")
    assert stage_at(state, 45, Standing(3, 3, 2)) == Segment.NEUTRAL  # 8: at most 8
    assert stage_at(state, 45, Standing(3, 3, 3)) == Segment.ACTIVE  # 9
    assert stage_at(state, 45, Standing(clv_percentile=50)) == Segment.ACTIVE  # no RFM yet: rule skipped
    assert stage_at(state, 45, Standing(1, 1, 1), policy_with(neutral={"rfm_total_at_most": None})) == Segment.ACTIVE


def test_new_customers_are_new_whatever_their_rfm():
    assert stage_at(buyer(0), 5, Standing(1, 1, 1)) == Segment.NEW


def test_a_lapsed_customer_who_buys_is_reactivated():
    state = settled(buyer(0), 200)
    assert state.segment_in(LIFECYCLE) == Segment.LAPSED
    state, changes = advance(order(state, 200), None, POLICY, day(200))
    assert moves(changes) == [(Segment.LAPSED, Segment.REACTIVATED, "ordered_after_lapse", day(200))]
    assert stage_at(state, 260 - 1e-6) == Segment.REACTIVATED
    assert stage_at(state, 260) == Segment.ACTIVE  # after reactivated.days
    assert next_change_at(state, None, POLICY, day(200)) == day(260)


def test_reactivation_needs_no_sweep_to_have_marked_the_customer_lapsed():
    # The stored stage is stale (active, never swept); the order history shows the lapse.
    state = order(settled(buyer(0), 40), 200)
    assert state.segment_in(LIFECYCLE) == Segment.ACTIVE
    [change] = decide(state, None, POLICY, day(200))
    assert (change.from_segment, change.to_segment) == (Segment.ACTIVE, Segment.REACTIVATED)


def test_time_and_then_the_event_each_count_in_order():
    """The worker's sequence for an event: advance to its time, observe it, advance again."""
    state = settled(buyer(0), 0)
    state, before = advance(state, None, POLICY, day(200))
    state, after = advance(order(state, 200), None, POLICY, day(200))
    assert moves(before + after) == [
        (Segment.NEW, Segment.ACTIVE, "ordering_at_usual_pace", day(30)),
        (Segment.ACTIVE, Segment.AT_RISK, "one_time_buyer_past_at_risk_days", day(60)),
        (Segment.AT_RISK, Segment.LAPSED, "one_time_buyer_past_lapsed_days", day(180)),
        (Segment.LAPSED, Segment.REACTIVATED, "ordered_after_lapse", day(200)),
    ]


def test_an_at_risk_customer_who_buys_is_active_not_reactivated():
    state = settled(buyer(0), 70)
    assert state.segment_in(LIFECYCLE) == Segment.AT_RISK
    _, changes = advance(order(state, 70), None, POLICY, day(70))
    assert moves(changes) == [(Segment.AT_RISK, Segment.ACTIVE, "ordering_at_usual_pace", day(70))]


def test_reactivated_lasts_its_period_even_with_more_orders():
    state = order(order(buyer(0), 200), 210)
    assert cadence(state, POLICY).returned_at == day(200)
    assert [stage_at(state, d) for d in (210, 259.9, 260)] == [Segment.REACTIVATED, Segment.REACTIVATED, Segment.ACTIVE]


def test_a_lapse_long_ago_is_not_a_reactivation_now():
    state = buyer(0, 200, 230, 260)
    assert cadence(state, POLICY).returned_at is None
    assert stage_at(state, 261) == Segment.ACTIVE


def test_cancelling_the_only_order_makes_a_customer_a_prospect_again():
    state = settled(buyer(0), 1)
    state = observe(state, OrderCancelled(order_id="o-0", cancelled_at=day(2)), day(2))
    [change] = decide(state, None, POLICY, day(2))
    assert (change.from_segment, change.to_segment, change.reason) == (Segment.NEW, Segment.PROSPECT, "orders_cancelled")


def test_a_store_override_moves_the_horizon():
    quick = policy_with(at_risk={"one_time_buyer_days": 20}, new={"days": 10})
    assert stage_at(buyer(0), 20, policy=quick) == Segment.AT_RISK
    assert stage_at(buyer(0), 20) == Segment.NEW  # the default is untouched


# --- value tier -------------------------------------------------------------------------------


def tier_after(percentiles: list[float], state: CustomerState | None = None, policy: LifecyclePolicy = POLICY):
    """Decides at each percentile in turn; returns the tiers and every value change."""
    state = state or settled(buyer(0, 20), 25)
    tiers, changes = [], []
    for i, p in enumerate(percentiles):
        for change in decide(state, Standing(5, 4, 4, clv_percentile=p), policy, day(25 + i)):
            if change.dimension == VALUE:
                changes.append((change.from_segment, change.to_segment, change.reason))
            state = state.with_segment(change.dimension, change.to_segment)
        tiers.append(state.segment_in(VALUE) or Segment.REGULAR)
    return tiers, changes


def test_vip_from_the_enter_percentile():
    tiers, changes = tier_after([89.9, 90])
    assert tiers == [Segment.REGULAR, Segment.VIP]
    assert changes == [(None, Segment.VIP, "clv_percentile_reached_enter")]


def test_vip_does_not_flap_when_hovering_at_the_line():
    tiers, changes = tier_after([91, 89, 91, 85, 89.9, 80, 90.5, 80.01, 95])
    assert set(tiers) == {Segment.VIP}
    assert len(changes) == 1


def test_vip_leaves_only_below_the_leave_percentile_and_needs_the_enter_one_again():
    tiers, changes = tier_after([95, 80, 79.9, 85, 89.9, 80, 90])
    assert tiers == [Segment.VIP, Segment.VIP, Segment.REGULAR, Segment.REGULAR, Segment.REGULAR, Segment.REGULAR, Segment.VIP]
    assert changes == [
        (None, Segment.VIP, "clv_percentile_reached_enter"),
        (Segment.VIP, Segment.REGULAR, "clv_percentile_below_leave"),
        (Segment.REGULAR, Segment.VIP, "clv_percentile_reached_enter"),
    ]


def test_a_regular_customer_is_not_announced():
    assert tier_after([10, 50, 89])[1] == []


def test_vip_needs_the_minimum_orders():
    two = policy_with(vip={"min_orders": 2})
    assert value_tier(buyer(0), Standing(clv_percentile=99), two).segment == Segment.REGULAR
    assert value_tier(buyer(0, 5), Standing(clv_percentile=99), two).segment == Segment.VIP


def test_without_scores_vip_goes_by_net_revenue_with_its_own_gap():
    state = settled(buyer(0, total="500"), 1)
    assert state.segment_in(VALUE) == Segment.VIP
    partly = observe(state, OrderRefunded(order_id="o-0", refund_id="r1", refunded_at=day(2), amount=Decimal(50)), day(2))
    assert decide(partly, None, POLICY, day(2)) == []  # 450: above the leave line
    refunded = observe(partly, OrderRefunded(order_id="o-0", refund_id="r2", refunded_at=day(3), amount=Decimal(60)), day(3))
    [change] = decide(refunded, None, POLICY, day(3))
    assert (change.dimension, change.to_segment, change.reason) == (VALUE, Segment.REGULAR, "net_revenue_below_leave")


def test_without_scores_and_without_a_fallback_the_tier_stays():
    off = policy_with(vip={"without_scores": None})
    vip = settled(buyer(0, total="1"), 1).with_segment(VALUE, Segment.VIP)
    assert value_tier(vip, None, off) is None
    assert [c.dimension for c in decide(vip, None, off, day(1))] == []
    assert value_tier(vip, Standing(clv_percentile=10), off).segment == Segment.REGULAR


def test_a_vip_whose_orders_are_all_cancelled_stops_being_vip():
    state = settled(buyer(0, total="900"), 1)
    state = observe(state, OrderCancelled(order_id="o-0", cancelled_at=day(2)), day(2))
    changes = {c.dimension: (c.to_segment, c.reason) for c in decide(state, Standing(clv_percentile=99), POLICY, day(2))}
    assert changes == {LIFECYCLE: (Segment.PROSPECT, "orders_cancelled"), VALUE: (Segment.REGULAR, "too_few_orders")}


def test_the_tier_is_independent_of_the_stage():
    standing = Standing(2, 5, 5, clv_percentile=97)
    state = settled(buyer(0, 20, 40), 41, standing)
    state, changes = advance(state, standing, POLICY, day(100))
    assert state.segments == {LIFECYCLE: Segment.AT_RISK, VALUE: Segment.VIP}
    assert [(c.dimension, c.to_segment) for c in changes] == [(LIFECYCLE, Segment.AT_RISK)]


# --- no change, next change -------------------------------------------------------------------


def test_no_change_when_the_segments_are_up_to_date():
    state = settled(buyer(0, 20, 40), 45)
    assert decide(state, None, POLICY, day(45)) == []
    assert advance(state, None, POLICY, day(46))[1] == []


def test_decisions_are_deterministic():
    state = visit(buyer(0, 20, 40), 90)
    first = advance(state, Standing(3, 3, 3, 91), POLICY, day(95))
    assert all(advance(state, Standing(3, 3, 3, 91), POLICY, day(95)) == first for _ in range(3))


@pytest.mark.parametrize(
    ("build", "now", "due", "then"),
    [
        (lambda: buyer(0), 0, 30, Segment.ACTIVE),  # new period ends
        (lambda: buyer(0), 30, 60, Segment.AT_RISK),  # one-time buyer at risk
        (lambda: buyer(0), 60, 180, Segment.LAPSED),
        (lambda: buyer(0, 10, 30, 50), 50, 90, Segment.AT_RISK),  # repeat buyer: 50 + 2 x 20
        (lambda: buyer(0, 10, 30, 50), 90, 140, Segment.LAPSED),  # 50 + 90 (min_days)
        (lambda: visit(buyer(0), 55), 56, 60, Segment.NEUTRAL),  # past the horizon, but visited on day 55
        (lambda: visit(buyer(0), 55), 60, 69, Segment.AT_RISK),  # neutral until the visit is 14 days old
        (lambda: order(buyer(0), 200), 200, 260, Segment.ACTIVE),  # reactivated period ends
    ],
)
def test_the_next_change_time_is_exact(build, now, due, then):
    state = settled(build(), now)
    current = state.segment_in(LIFECYCLE)
    when = next_change_at(state, None, POLICY, day(now))
    assert when == day(due)
    assert lifecycle_stage(state, None, POLICY, when - US).segment == current
    assert lifecycle_stage(state, None, POLICY, when).segment == then


def test_an_engaged_customer_crossing_the_horizon_has_no_change_until_the_engagement_expires():
    # neutral by RFM, then past the at-risk horizon but engaged: still neutral, so no change at 60.
    standing = Standing(3, 2, 2)
    state = settled(visit(buyer(0, 20, 40), 79), 79, standing)  # at risk from 80, visited on 79
    assert state.segment_in(LIFECYCLE) == Segment.NEUTRAL
    assert next_change_at(state, standing, POLICY, day(79)) == day(93)


def test_lapsed_customers_have_no_next_change():
    assert next_change_at(settled(buyer(0), 200), None, POLICY, day(200)) is None


def test_a_stale_stage_is_due_now():
    state = settled(buyer(0), 1)
    assert next_change_at(state, None, POLICY, day(70)) == day(70)


def test_advance_dates_every_change_time_made_when_the_sweep_comes_late():
    state = settled(buyer(0), 0)
    state, changes = advance(state, None, POLICY, day(400))
    assert [(c.to_segment, c.at) for c in changes] == [(Segment.ACTIVE, day(30)), (Segment.AT_RISK, day(60)), (Segment.LAPSED, day(180))]
    assert (state.segment_in(LIFECYCLE), state.evaluated_at) == (Segment.LAPSED, day(400))


def test_advance_never_goes_back_in_time():
    state = settled(buyer(0), 100)
    later, changes = advance(order(state, 50, order_id="late"), None, POLICY, day(50))
    assert later.evaluated_at == day(100)
    assert all(c.at == day(100) for c in changes)


def test_a_change_becomes_the_published_transition():
    state = buyer(0, total="20")
    [change] = decide(state, None, POLICY, day(0))
    transition = change.transition(state, "evt-1")
    assert (transition.to_segment, transition.changed_at, transition.orders, transition.revenue, transition.trigger_event_id) == (
        Segment.NEW, day(0), 1, Decimal(20), "evt-1",
    )  # fmt: skip


# --- property: next_change_at is exact for any history ---------------------------------------

histories = st.fixed_dictionaries(
    {
        "orders": st.lists(st.integers(0, 24 * 500), min_size=0, max_size=6),  # hours
        "visits": st.lists(st.integers(0, 24 * 600), max_size=3),
        "later": st.integers(0, 24 * 900),  # hours after the last event
        "rfm": st.one_of(st.none(), st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5))),
    }
)


@settings(max_examples=200, deadline=None)
@given(histories)
def test_next_change_is_exact_for_any_history(h):
    state = CustomerState("store-1", "cust-1")
    for i, hours in enumerate(sorted(h["orders"])):
        state = observe(state, OrderPlaced(order_id=f"o{i}", placed_at=T0 + timedelta(hours=hours), total=Decimal(10)), T0 + timedelta(hours=hours))
    for hours in h["visits"]:
        state = observe(state, PageViewed(path="/"), T0 + timedelta(hours=hours))
    standing = Standing(*h["rfm"]) if h["rfm"] else None
    now = T0 + timedelta(hours=max(h["orders"] + h["visits"], default=0) + h["later"])
    state, _ = advance(state, standing, POLICY, now)
    current = state.segment_in(LIFECYCLE)
    due = next_change_at(state, standing, POLICY, now)
    # The stage is piecewise constant between boundaries: checking each instant where any rule
    # could flip (and just before `due`) is checking every instant.
    probes = [now + timedelta(days=d) for d in range(0, 1200, 7)]
    for probe in probes + ([due - US] if due else []):
        if probe >= now and (due is None or probe < due):
            assert lifecycle_stage(state, standing, POLICY, probe).segment == current
    if due is not None:
        assert due > now
        assert lifecycle_stage(state, standing, POLICY, due).segment != current

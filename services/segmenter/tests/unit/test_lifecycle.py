"""lifecycle.step: one event's facts, redelivery and errors (the policy's decisions: test_stages)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from boomerang.segmenter.adapters.policy_files import default_policy
from boomerang.segmenter.domain import CustomerState, SegmentPolicy
from boomerang.segmenter.domain.lifecycle import step, sweep
from boomerang.shared.events import Envelope, UnknownEventType

POLICY = SegmentPolicy(remembered_event_ids=3)


@pytest.fixture
def blank() -> CustomerState:
    return CustomerState("store-1", "cust-1")


def apply(state: CustomerState, env: Envelope, now, policy: SegmentPolicy = POLICY):
    stepped = step(state, env, now, policy, default_policy())
    return stepped.state, stepped.transitions


def run(state: CustomerState, *envs: Envelope):
    """Applies the envelopes in order; returns the last state and every transition's target."""
    targets: list[str] = []
    for env in envs:
        state, transitions = apply(state, env, env.time)
        targets += [t.to_segment for t in transitions]
    return state, targets


def daily(envelopes, totals: list[str], ids: list[str] | None = None) -> list[Envelope]:
    """One order a day, starting at t0."""
    return [
        envelopes.order(total, placed_at=envelopes.t0 + timedelta(days=n), id=ids[n] if ids else None)
        for n, total in enumerate(totals)
    ]


def test_redelivered_envelope_counts_once(blank, envelopes):
    first = envelopes.order("300")
    state, targets = run(blank, first, first, first)
    assert targets == ["new"]
    assert (state.orders, state.net_revenue) == (1, Decimal("300"))


def test_redelivery_returns_the_very_same_state(blank, envelopes):
    env = envelopes.order("300")
    state, _ = apply(blank, env, env.time)
    again, transitions = apply(state, env, env.time + timedelta(minutes=1))
    assert again is state and transitions == []


def test_only_the_last_n_envelope_ids_are_kept(blank, envelopes):
    ids = [f"evt-{i}" for i in range(5)]
    state, _ = run(blank, *daily(envelopes, ["1"] * 5, ids))
    assert state.recent_event_ids == ("evt-2", "evt-3", "evt-4")
    # An id older than the window is not recognised by id any more; its order id still is.
    replayed, _ = apply(state, envelopes.order("1", id="evt-0"), envelopes.t0 + timedelta(days=5))
    assert replayed.recent_event_ids == ("evt-3", "evt-4", "evt-0")
    assert replayed.orders == 5


def test_orders_arriving_out_of_order_keep_first_and_last(blank, envelopes):
    late, early = envelopes.t0 + timedelta(days=9), envelopes.t0
    state, _ = run(blank, envelopes.order("5", placed_at=late), envelopes.order("5", placed_at=early))
    assert (state.first_order_at, state.last_order_at, state.last_seen_at) == (early, late, late)


def test_processing_time_is_recorded_separately(blank, envelopes):
    now = envelopes.t0 + timedelta(days=30)
    state, _ = apply(blank, envelopes.order("5"), now)
    assert state.updated_at == now
    assert state.last_order_at == envelopes.t0


def test_unknown_event_type_is_an_error(blank, envelopes):
    odd = envelopes.page_view().model_copy(update={"type": "commerce.order.teleported"})
    with pytest.raises(UnknownEventType):
        apply(blank, odd, envelopes.t0)


def test_event_data_that_fits_no_schema_is_an_error(blank, envelopes):
    broken = envelopes.order("5").model_copy(update={"data": {"order_id": "o-1"}})
    with pytest.raises(ValueError):
        apply(blank, broken, envelopes.t0)


def test_an_order_resent_under_a_new_event_id_counts_once(blank, envelopes):
    first = envelopes.order("300", id="evt-1", order_id="o-1")
    reimported = envelopes.order("300", id="evt-2", order_id="o-1")
    state, targets = run(blank, first, reimported)
    assert (state.orders, state.net_revenue, targets) == (1, Decimal("300"), ["new"])


def test_a_click_moves_an_engaged_non_buyer_to_neutral_and_time_takes_them_back(blank, envelopes):
    """Default policy: a one-time buyer is at risk 60 days after their order; one who clicked
    since, within 14 days, is neutral (interested, not buying) instead, until that runs out."""
    t0 = envelopes.t0
    state, targets = run(blank, envelopes.order("40", placed_at=t0))
    state = sweep(state, t0 + timedelta(days=70), default_policy()).state  # time alone
    assert state.segment_in("lifecycle") == "at_risk"
    opened = envelopes.provider_event("open", at=t0 + timedelta(days=71))
    # An open is no engagement (mail privacy proxies open everything): still at risk.
    assert run(state, opened)[0].segment_in("lifecycle") == "at_risk"
    clicked = envelopes.provider_event("click", at=t0 + timedelta(days=75))
    stepped = step(state, clicked, clicked.time, POLICY, default_policy())
    [change] = stepped.caused
    assert (change.from_segment, change.to_segment, change.reason) == ("at_risk", "neutral", "engaged_without_ordering")
    assert change.trigger_event_id == clicked.id
    assert stepped.state.last_engaged_at == t0 + timedelta(days=75)
    assert stepped.due_at == t0 + timedelta(days=89)  # the click grows old after 14 days
    assert step(stepped.state, clicked, clicked.time, POLICY, default_policy()).state is stepped.state  # redelivered


def test_a_survey_answer_is_engagement_too(blank, envelopes):
    t0 = envelopes.t0
    state, _ = run(blank, envelopes.order("40", placed_at=t0))
    state, targets = run(state, envelopes.survey_answer("csat", 5, at=t0 + timedelta(days=65)))
    assert targets[-1] == "neutral"
    assert state.last_engaged_at == t0 + timedelta(days=65)


def test_a_late_event_is_scored_when_it_is_judged_not_when_it_happened(blank, envelopes):
    """A shop re-importing its history sends old orders after the customer was evaluated
    later: the tier must come from the scores at that evaluation, not from back then."""
    t0 = envelopes.t0
    asked: list = []

    def standing_of(state, at):
        asked.append(at)
        return None

    first = envelopes.order("40", placed_at=t0)
    state = step(blank, first, t0, POLICY, default_policy(), standing_of).state
    state = sweep(state, t0 + timedelta(days=400), default_policy(), standing_of).state
    asked.clear()
    reimported = envelopes.order("40", placed_at=t0, id="reimport-1")
    step(state, reimported, t0 + timedelta(days=400), POLICY, default_policy(), standing_of)
    assert asked and set(asked) == {t0 + timedelta(days=400)}
    asked.clear()
    sweep(state, t0 + timedelta(days=10), default_policy(), standing_of)  # a late tick
    assert asked == [t0 + timedelta(days=400)]

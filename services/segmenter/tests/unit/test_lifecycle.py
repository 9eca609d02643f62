from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from boomerang.segmenter.domain import CustomerState, Dimension, Segment, SegmentPolicy, apply
from boomerang.shared.events import Envelope, UnknownEventType

POLICY = SegmentPolicy(vip_revenue_threshold=Decimal("500"), remembered_event_ids=3)


@pytest.fixture
def blank() -> CustomerState:
    return CustomerState("store-1", "cust-1")


def run(state: CustomerState, *envs: Envelope, policy: SegmentPolicy = POLICY):
    """Applies the envelopes in order; returns the last state and every transition's target."""
    targets: list[str] = []
    for env in envs:
        state, transitions = apply(state, env, env.time, policy)
        targets += [t.to_segment for t in transitions]
    return state, targets


def daily(envelopes, totals: list[str], ids: list[str] | None = None) -> list[Envelope]:
    """One order a day, starting at t0."""
    return [
        envelopes.order(total, placed_at=envelopes.t0 + timedelta(days=n), id=ids[n] if ids else None)
        for n, total in enumerate(totals)
    ]


def test_first_order_makes_the_customer_new_once(blank, envelopes):
    second = envelopes.order("30", placed_at=envelopes.t0 + timedelta(days=3))
    state, targets = run(blank, envelopes.order("20"), second)
    assert targets == [Segment.NEW]
    assert state.segment_in(Dimension.LIFECYCLE) == Segment.NEW
    assert state.orders == 2
    assert state.net_revenue == Decimal("50")


def test_new_transition_describes_the_triggering_order(blank, envelopes):
    env = envelopes.order("20", id="evt-1")
    _, [transition] = apply(blank, env, envelopes.t0 + timedelta(hours=5), POLICY)
    assert transition.from_segment is None
    assert transition.reason == "first_order"
    assert transition.changed_at == envelopes.t0  # when the order was placed, not when it was processed
    assert (transition.orders, transition.revenue, transition.trigger_event_id) == (1, Decimal("20"), "evt-1")


def test_vip_once_when_net_revenue_reaches_the_threshold(blank, envelopes):
    totals = ["200", "250", "50", "400"]
    state, targets = run(blank, *daily(envelopes, totals))
    assert targets == [Segment.NEW, Segment.VIP]
    assert state.segment_in(Dimension.VALUE) == Segment.VIP
    assert state.net_revenue == Decimal("900")


def test_vip_transition_names_the_order_that_crossed_the_line(blank, envelopes):
    state, _ = run(blank, envelopes.order("499.99"))
    crossing = envelopes.order("0.01", placed_at=envelopes.t0 + timedelta(days=1), id="evt-crossing")
    _, [transition] = apply(state, crossing, crossing.time, POLICY)
    assert (transition.to_segment, transition.trigger_event_id) == (Segment.VIP, "evt-crossing")
    assert (transition.orders, transition.revenue) == (2, Decimal("500.00"))
    assert transition.reason == "net_revenue_reached_threshold"


@pytest.mark.parametrize(
    ("total", "vip"), [("499.99", False), ("500", True), ("500.00", True), ("500.01", True)]
)
def test_threshold_boundary(blank, envelopes, total, vip):
    _, targets = run(blank, envelopes.order(total))
    assert (Segment.VIP in targets) is vip


def test_threshold_comes_from_the_policy(blank, envelopes):
    _, targets = run(blank, envelopes.order("100"), policy=SegmentPolicy(vip_revenue_threshold=Decimal("100")))
    assert targets == [Segment.NEW, Segment.VIP]


def test_big_first_order_makes_new_then_vip(blank, envelopes):
    _, transitions = apply(blank, envelopes.order("800"), envelopes.t0, POLICY)
    assert [(t.dimension, t.to_segment) for t in transitions] == [
        (Dimension.LIFECYCLE, Segment.NEW),
        (Dimension.VALUE, Segment.VIP),
    ]


def test_redelivered_envelope_counts_once(blank, envelopes):
    first = envelopes.order("300")
    state, targets = run(blank, first, first, first)
    assert targets == [Segment.NEW]
    assert (state.orders, state.net_revenue) == (1, Decimal("300"))


def test_redelivery_returns_the_very_same_state(blank, envelopes):
    env = envelopes.order("300")
    state, _ = apply(blank, env, env.time, POLICY)
    again, transitions = apply(state, env, env.time + timedelta(minutes=1), POLICY)
    assert again is state and transitions == []


def test_redelivered_crossing_order_does_not_make_vip_twice(blank, envelopes):
    crossing = envelopes.order("600")
    state, targets = run(blank, crossing, envelopes.order("10", placed_at=envelopes.t0 + timedelta(days=1)), crossing)
    assert targets == [Segment.NEW, Segment.VIP]
    assert state.net_revenue == Decimal("610")


def test_only_the_last_n_envelope_ids_are_kept(blank, envelopes):
    ids = [f"evt-{i}" for i in range(5)]
    state, _ = run(blank, *daily(envelopes, ["1"] * 5, ids))
    assert state.recent_event_ids == ("evt-2", "evt-3", "evt-4")
    # An id older than the window is not recognised by id any more; its order id still is.
    replayed, _ = apply(state, envelopes.order("1", id="evt-0"), envelopes.t0, POLICY)
    assert replayed.recent_event_ids == ("evt-3", "evt-4", "evt-0")
    assert replayed.orders == 5


def test_non_order_events_only_update_last_seen(blank, envelopes):
    seen_at = envelopes.t0 + timedelta(days=2)
    state, targets = run(blank, envelopes.page_view(at=seen_at))
    assert targets == []
    assert (state.orders, state.net_revenue, state.segments) == (0, Decimal(0), {})
    assert state.last_seen_at == seen_at


def test_orders_arriving_out_of_order_keep_first_and_last(blank, envelopes):
    late, early = envelopes.t0 + timedelta(days=9), envelopes.t0
    state, _ = run(blank, envelopes.order("5", placed_at=late), envelopes.order("5", placed_at=early))
    assert (state.first_order_at, state.last_order_at, state.last_seen_at) == (early, late, late)


def test_vip_is_kept_while_there_are_no_refunds(blank, envelopes):
    # Refund events do not exist yet: revenue only grows, so a vip stays vip.
    state, targets = run(blank, *daily(envelopes, ["300"] * 4))
    assert targets == [Segment.NEW, Segment.VIP]
    assert state.net_revenue == Decimal("1200")


def test_processing_time_is_recorded_separately(blank, envelopes):
    now = envelopes.t0 + timedelta(days=30)
    state, _ = apply(blank, envelopes.order("5"), now, POLICY)
    assert state.updated_at == now
    assert state.last_order_at == envelopes.t0


def test_unknown_event_type_is_an_error(blank, envelopes):
    odd = envelopes.page_view().model_copy(update={"type": "commerce.order.teleported"})
    with pytest.raises(UnknownEventType):
        apply(blank, odd, envelopes.t0, POLICY)


def test_event_data_that_fits_no_schema_is_an_error(blank, envelopes):
    broken = envelopes.order("5").model_copy(update={"data": {"order_id": "o-1"}})
    with pytest.raises(ValueError):
        apply(blank, broken, envelopes.t0, POLICY)


def test_an_order_resent_under_a_new_event_id_counts_once(blank, envelopes):
    first = envelopes.order("300", id="evt-1", order_id="o-1")
    reimported = envelopes.order("300", id="evt-2", order_id="o-1")
    other = envelopes.order("300", id="evt-3", order_id="o-2")
    state, targets = run(blank, first, reimported)
    assert (state.orders, state.net_revenue, targets) == (1, Decimal("300"), [Segment.NEW])
    state, targets = run(state, other)
    assert (state.orders, state.net_revenue, targets) == (2, Decimal("600"), [Segment.VIP])

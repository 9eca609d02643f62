"""facts.observe: what one event does to a customer's facts, and that it does it once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from boomerang.segmenter.adapters.policy_files import default_policy
from boomerang.segmenter.domain import CustomerState, SegmentPolicy
from boomerang.segmenter.domain.lifecycle import step
from boomerang.segmenter.domain.facts import feedback_ignored, is_engagement, observe, occurred_at
from boomerang.shared.events import (
    CustomerIdentified,
    Envelope,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    OrderRefunded,
    PageViewed,
    ProductViewed,
    ProviderEventReceived,
    SurveyAnswered,
)

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def placed(order_id: str, total: str, at: datetime = T0, *, coupon: str | None = None, lines=()) -> OrderPlaced:
    return OrderPlaced(order_id=order_id, placed_at=at, total=Decimal(total), coupon=coupon, lines=list(lines))


def line(product: str, category: str | None = None, quantity: int = 1, price: str = "10") -> OrderLine:
    return OrderLine(product_id=product, name=product, category=category, quantity=quantity, unit_price=Decimal(price))


def refunded(order_id: str, amount: str, at: datetime = T0, refund_id: str | None = None) -> OrderRefunded:
    return OrderRefunded(order_id=order_id, refund_id=refund_id, refunded_at=at, amount=Decimal(amount))


def cancelled(order_id: str, at: datetime = T0) -> OrderCancelled:
    return OrderCancelled(order_id=order_id, cancelled_at=at)


def click(at: datetime, kind: str = "click") -> ProviderEventReceived:
    return ProviderEventReceived(provider="sendgrid", provider_event_id=f"sg-{at.isoformat()}-{kind}", kind=kind, occurred_at=at)


def feed(*events, state: CustomerState | None = None, cap: int = 1000) -> CustomerState:
    state = state or CustomerState("store-1", "cust-1")
    for event in events:
        at = getattr(event, "placed_at", None) or getattr(event, "refunded_at", None) or getattr(event, "cancelled_at", None)
        at = at or getattr(event, "occurred_at", None) or T0
        state = observe(state, event, at, remembered_orders=cap)
    return state


def test_an_order_sets_every_fact():
    state = feed(
        placed("o-1", "60", day(0), coupon="WELCOME10", lines=[line("mug", "kitchen", 2), line("tea", "food")]),
        placed("o-2", "40", day(10), lines=[line("mug", "kitchen")]),
    )
    assert (state.orders, state.net_revenue, state.average_order_value) == (2, Decimal(100), Decimal(50))
    assert (state.first_order_at, state.last_order_at, state.last_seen_at) == (day(0), day(10), day(10))
    assert state.products == {"mug": 3, "tea": 1}
    assert state.categories == {"kitchen": 3, "food": 1}
    assert state.coupons == {"WELCOME10": 1}
    assert state.purchase_intervals == (timedelta(days=10),)
    assert state.last_visit_at is None and state.last_engaged_at is None


def test_no_orders_no_average_order_value():
    state = feed(PageViewed(path="/"))
    assert (state.orders, state.net_revenue, state.average_order_value) == (0, Decimal(0), None)


def test_the_same_order_twice_counts_once():
    once = feed(placed("o-1", "60", coupon="X", lines=[line("mug")]))
    again = observe(once, placed("o-1", "60", coupon="X", lines=[line("mug")]), T0)
    assert again is once


def test_an_order_resent_under_a_new_envelope_counts_once_through_step():
    def env(event_id: str) -> Envelope:
        return Envelope.wrap(placed("o-1", "60"), store_id="store-1", customer_id="cust-1", source="test", time=T0, id=event_id)

    state = CustomerState("store-1", "cust-1")
    for event_id in ("evt-1", "evt-1", "evt-2"):
        state = step(state, env(event_id), T0, SegmentPolicy(), default_policy()).state
    assert (state.orders, state.net_revenue, state.recent_event_ids) == (1, Decimal(60), ("evt-1", "evt-2"))


def test_a_refund_reduces_net_revenue_once():
    state = feed(placed("o-1", "100"), refunded("o-1", "30", day(1), refund_id="r-1"))
    assert (state.orders, state.net_revenue) == (1, Decimal(70))
    assert observe(state, refunded("o-1", "30", day(1), refund_id="r-1"), day(1)) is state
    state = feed(refunded("o-1", "20", day(2), refund_id="r-2"), state=state)
    assert (state.orders, state.net_revenue, state.average_order_value) == (1, Decimal(50), Decimal(50))


def test_a_refund_without_an_id_is_known_by_its_time_and_amount():
    state = feed(placed("o-1", "100"), refunded("o-1", "30", day(1)), refunded("o-1", "30", day(1)))
    assert state.net_revenue == Decimal(70)
    state = feed(refunded("o-1", "30", day(2)), state=state)
    assert state.net_revenue == Decimal(40)


def test_refunds_never_take_an_order_below_nothing():
    state = feed(placed("o-1", "50"), placed("o-2", "20", day(1)), refunded("o-1", "80", day(2), "r-1"))
    assert (state.orders, state.net_revenue) == (2, Decimal(20))
    # A refunded order is still an order: the customer bought (and sent it back).
    assert state.purchase_times == (day(0), day(1))


def test_a_cancellation_takes_the_order_back_out_once():
    state = feed(
        placed("o-1", "60", day(0), coupon="A", lines=[line("mug", "kitchen")]),
        placed("o-2", "40", day(10), coupon="B", lines=[line("tea", "food", 2)]),
        cancelled("o-2", day(11)),
    )
    assert (state.orders, state.net_revenue) == (1, Decimal(60))
    assert (state.products, state.categories, state.coupons) == ({"mug": 1}, {"kitchen": 1}, {"A": 1})
    assert (state.first_order_at, state.last_order_at) == (day(0), day(0))
    assert state.purchase_intervals == ()
    assert observe(state, cancelled("o-2", day(12)), day(12)) is state


def test_cancelling_a_partly_refunded_order_subtracts_only_what_was_left():
    state = feed(placed("o-1", "100"), placed("o-2", "10", day(1)), refunded("o-1", "30", day(2), "r-1"), cancelled("o-1", day(3)))
    assert (state.orders, state.net_revenue) == (1, Decimal(10))
    state = feed(refunded("o-1", "70", day(4), "r-2"), state=state)  # refunding the cancelled rest: nothing left to take
    assert state.net_revenue == Decimal(10)


def test_cancelling_the_only_order_leaves_no_order_dates():
    state = feed(placed("o-1", "100", lines=[line("mug")]), cancelled("o-1", day(1)))
    assert (state.orders, state.net_revenue, state.first_order_at, state.last_order_at) == (0, Decimal(0), None, None)
    assert (state.products, state.average_order_value) == ({}, None)


def test_a_refund_of_an_unknown_order_counts_for_nothing_until_the_order_arrives():
    state = feed(placed("o-2", "20", day(0)), refunded("o-1", "30", day(1), "r-1"))
    assert (state.orders, state.net_revenue) == (1, Decimal(20))
    # The order arrives afterwards (a history import, events out of order): it arrives refunded.
    state = feed(placed("o-1", "100", day(0)), state=state)
    assert (state.orders, state.net_revenue) == (2, Decimal(90))
    # ... and the refund, re-sent, still counts once.
    assert observe(state, refunded("o-1", "30", day(1), "r-1"), day(1)) is state


def test_a_cancellation_of_an_unknown_order_makes_it_arrive_cancelled():
    state = feed(cancelled("o-1", day(1)))
    assert (state.orders, state.net_revenue, state.first_order_at) == (0, Decimal(0), None)
    state = feed(placed("o-1", "100", day(0), lines=[line("mug")]), state=state)
    assert (state.orders, state.net_revenue, state.products, state.last_order_at) == (0, Decimal(0), {}, None)


def test_orders_arriving_out_of_order_keep_first_last_and_intervals():
    state = feed(placed("o-3", "5", day(30)), placed("o-1", "5", day(0)), placed("o-2", "5", day(10)))
    assert (state.first_order_at, state.last_order_at) == (day(0), day(30))
    assert state.purchase_intervals == (timedelta(days=10), timedelta(days=20))
    assert state.median_purchase_interval == timedelta(days=15)


def test_same_day_orders_are_one_purchase_for_intervals():
    state = feed(placed("o-1", "5", day(0)), placed("o-2", "5", day(0.25)), placed("o-3", "5", day(7)))
    assert state.orders == 3
    assert state.purchase_times == (day(0.25), day(7))
    assert state.purchase_intervals == (day(7) - day(0.25),)


@pytest.mark.parametrize(
    ("gaps", "median"),
    [((), None), ((5,), 5), ((5, 1, 9), 5), ((4, 1, 9, 2), 3)],
)
def test_median_purchase_interval(gaps, median):
    events, t = [placed("o-0", "1", day(0))], 0
    for i, gap in enumerate(gaps, start=1):
        t += gap
        events.append(placed(f"o-{i}", "1", day(t)))
    state = feed(*events)
    assert state.median_purchase_interval == (None if median is None else timedelta(days=median))


def test_visits_clicks_and_other_events():
    state = feed(PageViewed(path="/"))
    assert (state.last_visit_at, state.last_engaged_at, state.last_seen_at) == (T0, T0, T0)
    state = observe(state, ProductViewed(product_id="mug"), day(2))
    assert (state.last_visit_at, state.last_engaged_at) == (day(2), day(2))
    state = observe(state, click(day(3)), day(3))
    assert (state.last_visit_at, state.last_engaged_at, state.last_seen_at) == (day(2), day(3), day(3))
    assert observe(state, click(day(4), kind="delivered"), day(4)) is state
    assert observe(state, click(day(4), kind="open"), day(4)) is state
    identified = observe(state, CustomerIdentified(email="a@example.com"), day(5))
    assert (identified.last_seen_at, identified.last_engaged_at) == (day(5), day(3))


def test_an_older_visit_does_not_move_last_visit_back():
    state = feed(PageViewed(path="/"))
    state = observe(state, PageViewed(path="/"), day(-1))
    assert state.last_visit_at == T0


def test_oldest_orders_are_forgotten_beyond_the_cap_but_totals_stay():
    state = feed(*(placed(f"o-{i}", "10", day(i)) for i in range(4)), cap=2)
    assert [r.order_id for r in state.order_records] == ["o-2", "o-3"]
    assert (state.orders, state.net_revenue, state.forgotten_orders, state.first_order_at) == (4, Decimal(40), 2, day(0))
    state = feed(cancelled("o-3", day(5)), state=state, cap=2)
    assert (state.orders, state.first_order_at, state.last_order_at) == (3, day(0), day(2))


def test_business_time_of_each_event():
    order, refund, cancel = placed("o", "1", day(1)), refunded("o", "1", day(2)), cancelled("o", day(3))
    for event, expected in ((order, day(1)), (refund, day(2)), (cancel, day(3)), (click(day(4)), day(4)), (PageViewed(), day(9))):
        envelope = Envelope.wrap(event, store_id="s", customer_id="c", source="test", time=day(9))
        assert occurred_at(envelope, envelope.event()) == expected


def answered(at: datetime, survey: str = "nps", score: int | None = 9) -> SurveyAnswered:
    return SurveyAnswered(survey=survey, score=score, answer="quick", answered_at=at)


def test_clicks_replies_and_survey_answers_are_engagement_opens_and_deliveries_are_not():
    assert [is_engagement(click(T0, kind)) for kind in ("click", "reply")] == [True, True]
    # Opens: Apple Mail Privacy Protection opens every message on delivery, read or not.
    for kind in ("open", "processed", "delivered", "deferred", "bounce", "dropped", "unsubscribe", "spamreport"):
        assert not is_engagement(click(T0, kind)), kind
    assert is_engagement(answered(T0)) and is_engagement(answered(T0, "churn_reason", None))
    assert not is_engagement(PageViewed(path="/"))  # a visit is engagement through observe, not feedback


def test_a_survey_answer_sets_last_engaged_and_seen_but_not_last_visit():
    state = feed(PageViewed(path="/"))
    state = observe(state, answered(day(3)), day(3))
    assert (state.last_visit_at, state.last_engaged_at, state.last_seen_at) == (T0, day(3), day(3))
    assert observe(state, answered(day(1)), day(1)).last_engaged_at == day(3)  # an older answer: no move back
    assert occurred_at(*_wrapped(answered(day(2)))) == day(2)


def test_delivery_outcomes_change_nothing():
    state = feed(placed("o-1", "20"), click(day(1)))
    for kind in ("delivered", "bounce", "open"):
        assert observe(state, click(day(2), kind), day(2)) is state


def test_feedback_ignored_says_why_a_feedback_event_changes_nothing():
    assert feedback_ignored(_wrapped(click(T0))[0]) is None
    assert feedback_ignored(_wrapped(answered(T0))[0]) is None
    assert feedback_ignored(_wrapped(click(T0, "open"))[0]) == "not_engagement"
    assert feedback_ignored(_wrapped(click(T0, "delivered"))[0]) == "not_engagement"
    unknown = _wrapped(click(T0))[0].model_copy(update={"type": "feedback.review.posted", "data": {"stars": 5}})
    assert feedback_ignored(unknown) == "unknown_type"
    broken = _wrapped(click(T0))[0].model_copy(update={"data": {"kind": "click"}})  # a known type, bad data
    with pytest.raises(ValueError):
        feedback_ignored(broken)


def _wrapped(event) -> tuple[Envelope, object]:
    envelope = Envelope.wrap(event, store_id="s", customer_id="c", source="test", time=day(9))
    return envelope, envelope.event()


def test_evolve_is_dataclasses_replace_for_the_state():
    from dataclasses import replace

    from boomerang.segmenter.domain.model import evolve

    state = observe(CustomerState("store-1", "cust-1"), OrderPlaced(order_id="o1", placed_at=T0, total=Decimal("20")), T0)
    changes = {"last_seen_at": day(3), "segments": {"lifecycle": "new"}}
    evolved = evolve(state, **changes)
    assert evolved == replace(state, **changes) and evolved != state
    assert state.last_seen_at == T0 and state.segments == {}  # the original is untouched
    with pytest.raises(TypeError, match="no field"):
        evolve(state, segment="vip")

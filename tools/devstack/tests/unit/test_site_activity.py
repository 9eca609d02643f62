"""The synthetic site activity the demo replays with CDNOW's purchases: checkouts and views."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from boomerang.devstack.history import (
    ROOM_BEFORE_END,
    Purchase,
    abandons_a_checkout,
    at_risk_after,
    browses_after_stopping,
    load_purchases,
    replay_calls,
)
from boomerang.segmenter.adapters.policy_files import default_policy
from boomerang.segmenter.domain.model import median_interval

PURCHASES = load_purchases()
CALLS = replay_calls(PURCHASES)
HISTORY_END = max(p.day for p in PURCHASES)


def at(call: dict) -> datetime:
    return datetime.fromisoformat(call["timestamp"])


def of_event(name: str) -> list[dict]:
    return [c for c in CALLS if c.get("event") == name]


def orders_of(user: str) -> list[dict]:
    return [c for c in of_event("Order Completed") if c["userId"] == user]


def test_the_replay_is_the_same_calls_every_time_in_time_order_each_customer_identified_first():
    again = replay_calls(load_purchases())
    assert [c["messageId"] for c in again] == [c["messageId"] for c in CALLS]
    assert len({c["messageId"] for c in CALLS}) == len(CALLS)
    assert [at(c) for c in CALLS] == sorted(at(c) for c in CALLS)
    first_call = {}
    for call in CALLS:
        first_call.setdefault(call["userId"], call["type"])
    assert set(first_call.values()) == {"identify"} and len(first_call) == 300


def test_a_third_of_the_orders_start_with_a_checkout_that_the_order_ends():
    orders = {c["properties"]["order_id"]: c for c in of_event("Order Completed")}
    completed = [c for c in of_event("Checkout Started") if c["properties"]["order_id"] in orders]
    assert len(orders) / 4 < len(completed) < len(orders) / 2
    for checkout in completed:
        order = orders[checkout["properties"]["order_id"]]
        assert timedelta(0) < at(order) - at(checkout) < timedelta(hours=4)  # inside the reminder's 4 h
        assert checkout["properties"]["products"] == order["properties"]["products"]
        assert checkout["properties"]["value"] == order["properties"]["total"]


def test_abandoned_checkouts_are_never_followed_by_an_order_and_come_due_before_the_end():
    orders = {c["properties"]["order_id"] for c in of_event("Order Completed")}
    abandoned = [c for c in of_event("Checkout Started") if c["properties"]["order_id"] not in orders]
    assert len(abandoned) > 30
    for checkout in abandoned:
        assert abandons_a_checkout(int(checkout["userId"].removeprefix("cdnow-")))
        assert all(at(order) < at(checkout) for order in orders_of(checkout["userId"]))
        assert at(checkout) + ROOM_BEFORE_END <= HISTORY_END
        assert checkout["properties"]["products"] and checkout["properties"]["recovery_url"].endswith(
            checkout["properties"]["order_id"]
        )


def test_views_come_after_the_customers_last_order_past_their_at_risk_horizon_and_before_they_lapse():
    views = of_event("Product Viewed")
    assert len(views) > 30
    lapsed = default_policy().lapsed
    for view in views:
        assert browses_after_stopping(int(view["userId"].removeprefix("cdnow-")))
        days = sorted({at(o) for o in orders_of(view["userId"])})
        since_last = at(view) - days[-1]
        gap = _median_gap(days)
        assert at_risk_after(days) <= since_last < lapsed.after(gap)
        assert at(view) + ROOM_BEFORE_END <= HISTORY_END
        assert view["properties"]["category"] and view["properties"]["product_id"].startswith("cd-")


def test_the_at_risk_horizon_is_the_segmenters_default():
    horizon = default_policy().at_risk
    day = datetime(1997, 1, 1, 17, tzinfo=timezone.utc)
    for gaps in ([], [1], [10, 20, 40], [70], [200, 300]):
        days = [day + timedelta(days=sum(gaps[:i])) for i in range(len(gaps) + 1)]
        assert at_risk_after(days) == horizon.after(_median_gap(days)), gaps


def test_no_activity_is_made_up_without_purchases_or_for_customers_outside_the_rule():
    assert replay_calls([]) == []
    one = Purchase(customer=4, day=datetime(1997, 1, 1, 17, tzinfo=timezone.utc), cds=1, value=Decimal("9.99"), seq=0)
    calls = replay_calls([one, Purchase(8, datetime(1997, 1, 2, 17, tzinfo=timezone.utc), 1, Decimal("5"), 0)])
    # 4 and 8 neither abandon a checkout nor browse: only the checkouts of their own orders
    orders = {c["properties"]["order_id"] for c in calls if c.get("event") == "Order Completed"}
    checkouts = [c for c in calls if c.get("event") == "Checkout Started"]
    assert {c["properties"]["order_id"] for c in checkouts} <= orders
    assert not [c for c in calls if c.get("event") == "Product Viewed"]


def _median_gap(days: list[datetime]) -> timedelta | None:
    return median_interval([b - a for a, b in zip(days, days[1:])])

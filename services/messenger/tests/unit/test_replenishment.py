"""Replenishment by the customer's own interval (domain.replenishment)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from boomerang.messenger.domain.replenishment import (
    Purchase,
    instance_for,
    is_latest,
    own_interval,
    purchase_moments,
    reminder_due,
    written_by,
)

T0 = datetime(2025, 1, 1, 10, tzinfo=UTC)


def bought(*days: float) -> list[Purchase]:
    return [Purchase(f"o{i}", T0 + timedelta(days=d)) for i, d in enumerate(days, start=1)]


def test_the_interval_is_the_median_gap_so_one_long_pause_does_not_move_it() -> None:
    moments = purchase_moments(bought(0, 30, 60, 150))  # gaps 30, 30, 90
    assert own_interval(moments) == timedelta(days=30)


def test_with_an_even_number_of_gaps_the_median_is_their_middle() -> None:
    assert own_interval(purchase_moments(bought(0, 20, 50))) == timedelta(days=25)


def test_purchases_less_than_a_day_apart_are_one_purchase() -> None:
    moments = purchase_moments(bought(0, 0.2, 30))
    assert moments == [T0, T0 + timedelta(days=30)]
    assert own_interval(moments) == timedelta(days=30)


def test_one_purchase_has_no_interval() -> None:
    assert own_interval(purchase_moments(bought(0))) is None
    assert reminder_due(bought(0), 2, timedelta(days=3)) is None


def test_the_reminder_is_due_the_lead_before_the_next_purchase_would_be() -> None:
    due = reminder_due(bought(0, 30), 2, timedelta(days=3))
    assert due == T0 + timedelta(days=57)  # last (day 30) + 30 - 3


def test_fewer_purchases_than_the_flow_asks_for_give_no_reminder() -> None:
    assert reminder_due(bought(0, 30), 3, timedelta(days=3)) is None
    assert reminder_due(bought(0, 30, 60), 3, timedelta(days=3)) == T0 + timedelta(days=87)


def test_two_orders_the_same_day_are_not_two_purchases() -> None:
    assert reminder_due(bought(0, 0.1), 2, timedelta(days=3)) is None


def test_a_short_interval_is_reminded_no_earlier_than_halfway() -> None:
    due = reminder_due(bought(0, 4), 2, timedelta(days=3))
    assert due == T0 + timedelta(days=6)  # last (day 4) + 4 - 2, not + 4 - 3


def test_only_the_latest_purchase_schedules_a_reminder() -> None:
    purchases = bought(0, 30)
    assert is_latest(purchases, "o2")
    assert not is_latest(purchases, "o1")  # a late replay of the older order
    assert not is_latest([], "o1")


def test_the_instance_names_the_product_and_the_order_that_made_it_due() -> None:
    instance = instance_for("beans", "o-17")
    assert instance == "beans@o-17"
    assert written_by(instance, "o-17")
    assert not written_by(instance, "o-18")
    assert not written_by(instance, "17")

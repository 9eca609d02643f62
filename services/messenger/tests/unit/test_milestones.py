"""VIP milestones from the customer's own order record (domain.milestones)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from boomerang.messenger.domain.content import Milestone
from boomerang.messenger.domain.flow_definitions import MilestoneTrigger
from boomerang.messenger.domain.milestones import OrderFact, instance_for, milestone_of, milestones_crossed

T0 = datetime(2025, 1, 1, tzinfo=UTC)
TRIGGER = MilestoneTrigger(kind="milestone", orders=(5, 10), net_revenue=(Decimal("500"), Decimal("1000")))


def orders(*nets: str) -> list[OrderFact]:
    return [OrderFact(f"o{i}", T0 + timedelta(days=i), Decimal(net)) for i, net in enumerate(nets, start=1)]


def test_the_fifth_order_crosses_the_five_orders_milestone_and_the_fourth_does_not() -> None:
    history = orders("10", "10", "10", "10", "10")
    assert milestones_crossed(TRIGGER, history, "o5") == ["orders:5"]
    assert milestones_crossed(TRIGGER, history, "o4") == []


def test_the_order_that_takes_spend_past_a_threshold_crosses_it_once() -> None:
    history = orders("300", "150", "60", "10")
    assert milestones_crossed(TRIGGER, history, "o3") == ["net_revenue:500"]  # 450 -> 510
    assert milestones_crossed(TRIGGER, history, "o4") == []  # 510 -> 520: already past


def test_one_order_can_cross_several_milestones() -> None:
    history = orders("100", "100", "100", "100", "700")
    assert milestones_crossed(TRIGGER, history, "o5") == ["orders:5", "net_revenue:500", "net_revenue:1000"]


def test_an_exact_threshold_counts_as_reached() -> None:
    assert milestones_crossed(TRIGGER, orders("250", "250"), "o2") == ["net_revenue:500"]


def test_refunds_count_net_so_a_refunded_order_does_not_push_spend_past_the_threshold() -> None:
    history = orders("400", "0", "90")  # the second order was refunded in full: net 0
    assert milestones_crossed(TRIGGER, history, "o3") == []  # 400 -> 490


def test_orders_count_in_the_order_they_were_placed_not_the_order_they_arrived() -> None:
    history = orders("10", "10", "10", "10", "10")
    late = [history[4], *history[:4]]  # o5 recorded first (a replay), still the fifth order
    assert milestones_crossed(TRIGGER, late, "o5") == ["orders:5"]
    assert milestones_crossed(TRIGGER, late, "o1") == []


def test_an_unknown_order_crosses_nothing() -> None:
    assert milestones_crossed(TRIGGER, orders("600"), "nope") == []


def test_instances_spell_each_threshold_one_way() -> None:
    assert instance_for("net_revenue", Decimal("500.00")) == "net_revenue:500"
    assert instance_for("net_revenue", Decimal("499.50")) == "net_revenue:499.5"
    assert instance_for("orders", 10) == "orders:10"


def test_a_milestone_instance_says_what_the_message_shows() -> None:
    assert milestone_of("orders:10", "EUR") == Milestone(orders=10, currency="EUR")
    assert milestone_of("net_revenue:500", "EUR") == Milestone(spent=Decimal("500"), currency="EUR")
    assert milestone_of("orders:ten") is None
    assert milestone_of("visits:3") is None

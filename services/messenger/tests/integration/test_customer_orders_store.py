"""Each customer's orders, refunds and yearly dates (adapters.customer_orders) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from boomerang.messenger.adapters.customer_orders import SqlCustomerOrders
from boomerang.messenger.adapters.recommendations import SqlRecommendations
from boomerang.messenger.domain.customer_dates import BIRTHDAY, FIRST_PURCHASE
from boomerang.messenger.service_layer.ports import PlacedOrder
from boomerang.shared.events import OrderLine, OrderPlaced

pytestmark = pytest.mark.integration
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def store(engine) -> SqlCustomerOrders:
    return SqlCustomerOrders(engine)


def order(order_id: str, *products: str, at: datetime = NOW, total: str = "25.50") -> OrderPlaced:
    lines = [
        OrderLine(product_id=p, name=p.title(), category="Coffee", unit_price=Decimal("5"), url=f"https://s/{p}")
        for p in products
    ]
    return OrderPlaced(order_id=order_id, placed_at=at, currency="EUR", total=Decimal(total), lines=lines)


def test_a_batch_returns_each_customers_record_right_after_their_order(store: SqlCustomerOrders) -> None:
    records = store.record_orders([
        PlacedOrder("s1", "c1", order("o1", "beans")),
        PlacedOrder("s1", "c2", order("o9", "mug")),
        PlacedOrder("s1", "c1", order("o2", "beans", at=NOW + timedelta(days=20))),
    ])

    assert [sorted(o.order_id for o in r.orders) for r in records] == [["o1"], ["o9"], ["o1", "o2"]]
    assert len(records[0].purchases["beans"]) == 1 and len(records[2].purchases["beans"]) == 2
    assert store.first_purchase("s1", "c1") == NOW


def test_an_order_is_recorded_once_with_its_products_and_net_of_its_refunds(store: SqlCustomerOrders) -> None:
    store.record_order("s1", "c1", order("o1", "beans", "filters", "beans"))
    store.record_order("s1", "c1", order("o1", "beans", "filters"))  # redelivered
    store.record_order("s1", "c1", order("o2", "beans", at=NOW + timedelta(days=30), total="10"))
    store.record_refund("s1", "c1", "r1", "o1", Decimal("5.50"))
    store.record_refund("s1", "c1", "r1", "o1", Decimal("5.50"))  # the same refund again

    store.record_order("s1", "c1", order("o3", "grinder", total="40"))
    store.record_cancellation("s1", "c1", "o3")
    store.record_cancellation("s1", "c1", "o3")  # redelivered
    store.record_cancellation("s1", "c1", "o-unknown")

    facts = sorted(store.orders_of("s1", "c1"), key=lambda o: o.order_id)
    assert [(o.order_id, o.net, o.currency) for o in facts] == [
        ("o1", Decimal("20.00"), "EUR"),
        ("o2", Decimal("10"), "EUR"),
        ("o3", Decimal("0"), "EUR"),  # cancelled: refunded in full
    ]
    assert facts[0].placed_at == NOW
    bought = store.purchases_of("s1", "c1", ["beans", "filters", "kettle"])
    assert sorted(p.order_id for p in bought["beans"]) == ["o1", "o2"]
    assert [p.order_id for p in bought["filters"]] == ["o1"] and bought["kettle"] == []
    assert store.orders_of("s1", "c2") == [] and store.orders_of("s2", "c1") == []


def test_the_first_purchase_is_the_earliest_order_even_when_it_arrives_late(store: SqlCustomerOrders) -> None:
    berlin = timezone(timedelta(hours=1))
    store.record_order("s1", "c1", order("o2", "beans", at=NOW))
    store.record_order("s1", "c1", order("o1", "beans", at=datetime(2024, 7, 9, 0, 30, tzinfo=berlin)))  # a replay
    store.record_order("s1", "c1", order("o3", "beans", at=NOW + timedelta(days=9)))

    assert store.first_purchase("s1", "c1") == datetime(2024, 7, 8, 23, 30, tzinfo=UTC)
    (first,) = store.dates_on(["07-08"])
    assert (first.customer_id, first.occasion, first.day) == ("c1", FIRST_PURCHASE, date(2024, 7, 8))
    assert store.dates_on(["03-01"]) == []


def test_birthdays_are_found_by_month_and_day_and_a_correction_replaces_them(store: SqlCustomerOrders) -> None:
    store.set_birthday("s1", "c1", date(1990, 5, 13))
    store.set_birthday("s1", "c1", date(1990, 5, 14))  # corrected
    store.set_birthday("s2", "c9", date(2000, 5, 14))

    found = sorted((d.store_id, d.customer_id, d.occasion, d.day, d.happened_at) for d in store.dates_on(["05-14", "05-15"]))
    assert found == [("s1", "c1", BIRTHDAY, date(1990, 5, 14), None), ("s2", "c9", BIRTHDAY, date(2000, 5, 14), None)]
    assert store.dates_on(["05-13"]) == []


def test_discoveries_are_the_customers_categories_lesser_known_products_with_their_first_order(engine, store) -> None:
    recommendations = SqlRecommendations(engine)
    for customer, placed in (
        ("c1", order("o1", "beans")),
        ("c2", order("o2", "beans", "rare-roast", at=NOW - timedelta(days=200))),
        ("c3", order("o3", "rare-roast", at=NOW - timedelta(days=10))),
        ("c4", order("o4", "beans", at=NOW - timedelta(days=5))),
    ):
        recommendations.record_order("s1", customer, placed, NOW)
        store.record_order("s1", customer, placed)

    found = store.discoveries("s1", "c1")
    candidates, first_seen, interests, bought = found.candidates, found.first_seen, found.interests, found.bought
    assert [p.product_id for p in candidates] == ["rare-roast", "beans"]  # fewest orders first
    assert first_seen == {"beans": NOW - timedelta(days=200), "rare-roast": NOW - timedelta(days=200)}
    assert interests == frozenset({"coffee"}) and bought == frozenset({"beans"})

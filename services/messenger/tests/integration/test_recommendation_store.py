"""The co-purchase data and catalogue on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from boomerang.messenger.adapters.recommendations import SqlRecommendations
from boomerang.messenger.domain.recommendations import recommend
from boomerang.messenger.service_layer.ports import PlacedOrder
from boomerang.shared.events import OrderLine, OrderPlaced, ProductViewed

pytestmark = pytest.mark.integration
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
SHOP = "https://shop.example/products"


@pytest.fixture
def store(engine) -> SqlRecommendations:
    return SqlRecommendations(engine)


def line(pid: str, category: str | None = "Coffee", price: str = "5.00", name: str | None = None) -> OrderLine:
    return OrderLine(
        product_id=pid, name=name or pid.title(), category=category, unit_price=Decimal(price), url=f"{SHOP}/{pid}"
    )


def order(order_id: str, *lines: OrderLine, placed_at: datetime = NOW) -> OrderPlaced:
    return OrderPlaced(order_id=order_id, placed_at=placed_at, currency="EUR", total=Decimal("10"), lines=list(lines))


def test_an_order_counts_its_products_and_pairs_once(store: SqlRecommendations) -> None:
    placed = order("o-1", line("beans"), line("filters"), line("beans"))

    assert store.record_order("s1", "c1", placed, NOW) is True
    assert store.record_order("s1", "c1", placed, NOW) is False  # redelivered: counted already
    store.record_order("s1", "c2", order("o-2", line("beans"), line("kettle", "Gear")), NOW)

    seen = store.neighbourhood("s1", "c3", [line("beans")], k=3)
    assert seen.counts == {("beans", "filters"): 1, ("beans", "kettle"): 1}
    assert seen.catalogue["beans"].orders == 2 and seen.catalogue["filters"].orders == 1
    assert seen.catalogue["filters"].price == Decimal("5.00") and seen.catalogue["filters"].currency == "EUR"
    assert seen.catalogue["kettle"].url == f"{SHOP}/kettle"
    assert seen.interests == frozenset() and seen.bought_before == frozenset()


def test_a_batch_of_orders_counts_each_as_its_own_order(store: SqlRecommendations) -> None:
    store.record_order("s1", "c9", order("o-0", line("beans"), line("filters")), NOW)
    batch = [
        PlacedOrder("s1", "c1", order("o-1", line("beans"), line("filters"))),
        PlacedOrder("s1", "c2", order("o-2", line("filters"), line("beans"), line("mug", "Gear"))),
        PlacedOrder("s1", "c9", order("o-0", line("beans"), line("filters"))),  # counted before
    ]

    assert store.record_orders(batch, NOW) == [True, True, False]

    seen = store.neighbourhood("s1", "c1", [line("beans")], k=3)
    assert seen.counts == {("beans", "filters"): 3, ("beans", "mug"): 1}  # the same pair twice in a batch: +2
    assert seen.catalogue["beans"].orders == 3 and seen.catalogue["filters"].orders == 3
    assert seen.bought_before == frozenset({"beans", "filters"}) and seen.interests == frozenset({"coffee"})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_reads_are_kept_a_few_seconds_but_this_replicas_own_orders_show_at_once(engine) -> None:
    clock = Clock()
    this, other = SqlRecommendations(engine, recent_s=5, clock=clock), SqlRecommendations(engine, recent_s=5, clock=clock)
    this.record_order("s1", "c1", order("o-1", line("beans"), line("filters")), NOW)
    assert this.neighbourhood("s1", "c9", [line("beans")], k=3).counts == {("beans", "filters"): 1}

    other.record_order("s1", "c2", order("o-2", line("beans"), line("filters"), line("mug", "Gear")), NOW)
    clock.now = 4.9
    kept = this.neighbourhood("s1", "c9", [line("beans")], k=3)
    assert kept.counts == {("beans", "filters"): 1} and kept.catalogue["beans"].orders == 1  # read 4.9 s ago

    clock.now = 5.1
    fresh = this.neighbourhood("s1", "c9", [line("beans")], k=3)
    assert fresh.counts == {("beans", "filters"): 2, ("beans", "mug"): 1} and fresh.catalogue["beans"].orders == 2

    this.record_order("s1", "c3", order("o-3", line("beans"), line("kettle", "Gear")), NOW)
    mine = this.neighbourhood("s1", "c9", [line("beans")], k=3)  # no time passed: its own write shows
    assert mine.counts[("beans", "kettle")] == 1 and mine.catalogue["beans"].orders == 3
    assert [p.product_id for p in recommend([line("filters")], {}, mine.catalogue, [], 1)] == ["beans"]


def test_a_batch_that_fails_writes_none_of_its_orders(store: SqlRecommendations) -> None:
    first = PlacedOrder("s1", "c1", order("o-1", line("beans"), line("filters")))
    no_store = PlacedOrder(None, "c2", order("o-2", line("beans"), line("mug")))  # type: ignore[arg-type]

    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):  # the driver's own: statements run on its cursor
        store.record_orders([first, no_store], NOW)

    assert store.neighbourhood("s1", "c1", [line("beans")], k=3).counts == {}
    assert store.record_orders([first], NOW) == [True]  # not counted by the batch that failed


def test_co_purchases_are_per_store(store: SqlRecommendations) -> None:
    store.record_order("s1", "c1", order("o-1", line("beans"), line("filters")), NOW)

    assert store.neighbourhood("s2", "c1", [line("beans")], k=3).counts == {}
    assert store.record_order("s2", "c1", order("o-1", line("beans"), line("mug")), NOW) is True  # own order ids


def test_the_customers_categories_and_purchases_are_remembered(store: SqlRecommendations) -> None:
    store.record_order("s1", "c1", order("o-1", line("beans"), line("kettle", " Brewing Gear")), NOW)
    store.record_view("s1", "c1", ProductViewed(product_id="green", category="Tea"))
    store.record_view("s1", "c1", ProductViewed(product_id="x"))  # no category: nothing learnt

    seen = store.neighbourhood("s1", "c1", [line("mug", "Cups")], k=3)

    assert seen.interests == {"coffee", "brewing gear", "tea"}
    assert seen.bought_before == {"beans", "kettle"}


def test_the_newest_order_names_and_prices_a_product_whatever_the_arrival_order(
    store: SqlRecommendations,
) -> None:
    later = NOW + timedelta(days=1)
    store.record_order("s1", "c1", order("o-2", line("beans", price="6.50", name="Beans 2.0"), placed_at=later), NOW)
    store.record_order("s1", "c2", order("o-1", line("beans", price="5.00", name="Beans")), NOW)  # a late replay

    product = store.neighbourhood("s1", "c3", [line("mug")], k=3).catalogue["beans"]

    assert (product.name, product.price, product.orders, product.priced_at) == ("Beans 2.0", Decimal("6.50"), 2, later)


@pytest.mark.parametrize("newest_first", [True, False])
def test_within_one_batch_too_the_newest_order_names_and_prices_a_product(
    store: SqlRecommendations, newest_first: bool
) -> None:
    later = NOW + timedelta(days=1)
    newer = PlacedOrder("s1", "c1", order("o-2", line("beans", price="6.50", name="Beans 2.0"), placed_at=later))
    older = PlacedOrder("s1", "c2", order("o-1", line("beans", price="5.00", name="Beans")))
    earlier = NOW - timedelta(days=9)
    store.record_order("s1", "c9", order("o-0", line("beans", price="4.00", name="Old beans"), placed_at=earlier), NOW)

    store.record_orders([newer, older] if newest_first else [older, newer], NOW)

    product = store.neighbourhood("s1", "c3", [line("mug")], k=3).catalogue["beans"]
    assert (product.name, product.price, product.orders, product.priced_at) == ("Beans 2.0", Decimal("6.50"), 3, later)


def test_best_sellers_of_the_customers_categories_are_read_for_the_fallback(store: SqlRecommendations) -> None:
    for i in range(3):
        store.record_order("s1", f"c{i}", order(f"o-{i}", line("decaf")), NOW)
    store.record_order("s1", "c9", order("o-9", line("teapot", "Tea")), NOW)

    seen = store.neighbourhood("s1", "new", [line("beans")], k=3)
    picked = recommend([line("beans")], seen.counts, seen.catalogue, seen.interests, k=3)

    assert [p.product_id for p in picked] == ["decaf"]  # coffee, like the order; no tea


def test_concurrent_deliveries_of_one_order_count_it_once(store: SqlRecommendations) -> None:
    placed = order("o-race", line("beans"), line("filters"), line("mug"))
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def record() -> None:
        barrier.wait()
        results.append(store.record_order("s1", "c1", placed, NOW))

    threads = [threading.Thread(target=record) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, True]
    assert store.neighbourhood("s1", "c2", [line("beans")], k=3).counts == {("beans", "filters"): 1, ("beans", "mug"): 1}


def test_the_customers_categories_are_named_by_the_catalogue_most_bought_first(store: SqlRecommendations) -> None:
    # c1 bought two coffees and a kettle and looked at tea; another customer's order names
    # "Tea" in the catalogue, and "Cups" was only ever viewed (views keep no name: its key).
    store.record_order("s1", "c1", order("o-1", line("beans"), line("kettle", " Brewing Gear")), NOW)
    store.record_order("s1", "c1", order("o-2", line("decaf", "coffee")), NOW)
    store.record_view("s1", "c1", ProductViewed(product_id="green", category="TEA"))
    store.record_view("s1", "c1", ProductViewed(product_id="mug", category="Cups"))
    store.record_order("s1", "c2", order("o-3", line("green", "Tea"), line("hat", "Hats")), NOW)
    store.record_order("s2", "c1", order("o-4", line("shoe", "Shoes")), NOW)  # another store's

    named = store.categories_of("s1", "c1")

    assert named[:2] == ["Coffee", "Brewing Gear"]  # two bought, then one
    assert sorted(named[2:]) == ["Tea", "cups"]  # viewed only
    assert store.categories_of("s1", "nobody") == []

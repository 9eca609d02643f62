"""Products bought together: counting pairs and ranking what goes with an order."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from boomerang.messenger.domain.recommendations import (
    CatalogueProduct,
    category_key,
    co_purchase_counts,
    pair,
    pairs_in,
    recommend,
)
from boomerang.shared.events import OrderLine

SHOP = "https://shop.example/products"


def product(pid: str, category: str | None = "coffee", orders: int = 1, url: bool = True) -> CatalogueProduct:
    return CatalogueProduct(pid, pid.title(), category, f"{SHOP}/{pid}" if url else None, Decimal("5"), "USD", orders)


def line(pid: str, category: str | None = "coffee") -> OrderLine:
    return OrderLine(product_id=pid, name=pid.title(), category=category, unit_price=Decimal("5"))


def catalogue(*products: CatalogueProduct) -> dict[str, CatalogueProduct]:
    return {p.product_id: p for p in products}


def ids(products: list[CatalogueProduct]) -> list[str]:
    return [p.product_id for p in products]


def test_pairs_are_unordered_and_a_product_twice_in_an_order_counts_once() -> None:
    assert pairs_in(["b", "a", "b", "c"]) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert pairs_in(["a", "a"]) == set()
    assert co_purchase_counts([["a", "b"], ["b", "a", "a"], ["a", "c"]]) == {("a", "b"): 2, ("a", "c"): 1}
    assert pair("z", "a") == ("a", "z")


def test_categories_compare_without_case_or_blanks() -> None:
    assert category_key(" Brewing Gear ") == "brewing gear"
    assert category_key("") is None and category_key(None) is None


def test_products_bought_with_the_order_come_first_most_often_bought_first() -> None:
    counts = co_purchase_counts([["beans", "filters"]] * 3 + [["beans", "grinder"]])
    shop = catalogue(
        product("beans", orders=4), product("filters", orders=3), product("grinder", orders=1)
    )

    picked = recommend([line("beans")], counts, shop, interests=["coffee"], k=3)

    assert ids(picked) == ["filters", "grinder"]


def test_a_best_seller_bought_with_everything_ranks_below_a_true_companion() -> None:
    # bags go into nearly every order; filters into beans orders only
    orders = [["beans", "filters", "bag"]] * 5 + [["bag", f"other-{i}"] for i in range(95)]
    shop = catalogue(
        product("beans", orders=5),
        product("filters", orders=5),
        product("bag", orders=100),
        *[product(f"other-{i}") for i in range(95)],
    )

    picked = recommend([line("beans")], co_purchase_counts(orders), shop, ["coffee"], k=2)

    assert ids(picked) == ["filters", "bag"]


def test_a_pair_seen_once_does_not_outrank_a_pair_seen_often() -> None:
    orders = [["beans", "filters"]] * 50 + [["beans", "rare"]] + [["filters", f"x{i}"] for i in range(50)]
    shop = catalogue(product("beans", orders=51), product("filters", orders=100), product("rare", orders=1))

    assert ids(recommend([line("beans")], co_purchase_counts(orders), shop, ["coffee"], k=1)) == ["filters"]


def test_nothing_from_the_order_or_bought_before() -> None:
    counts = co_purchase_counts([["beans", "filters", "kettle", "mug"]])
    shop = catalogue(*(product(p) for p in ("beans", "filters", "kettle", "mug")))

    picked = recommend([line("beans"), line("filters")], counts, shop, ["coffee"], bought_before={"kettle"})

    assert ids(picked) == ["mug"]


def test_only_categories_the_customer_bought_or_viewed() -> None:
    counts = co_purchase_counts([["beans", "kettle", "filters", "tea", "mystery"]])
    shop = catalogue(
        product("beans"),
        product("kettle", category="Brewing Gear"),
        product("filters", category="paper"),
        product("tea", category="tea"),
        product("mystery", category=None),
    )

    picked = recommend([line("beans")], counts, shop, interests=["brewing gear "], k=3)

    assert ids(picked) == ["kettle"]  # viewed gear; paper, tea and the uncategorised are out


def test_the_orders_own_categories_are_interests() -> None:
    counts = co_purchase_counts([["beans", "espresso"]])
    shop = catalogue(product("beans"), product("espresso"))

    assert ids(recommend([line("beans")], counts, shop, interests=[])) == ["espresso"]


def test_best_sellers_of_the_customers_categories_fill_in_when_co_purchases_are_thin() -> None:
    counts = co_purchase_counts([["beans", "filters"]])
    shop = catalogue(
        product("beans", orders=9),
        product("filters", orders=1),
        product("decaf", orders=7),
        product("blend", orders=8),
        product("teapot", category="tea", orders=50),
    )

    picked = recommend([line("beans")], counts, shop, ["coffee"], k=3)

    assert ids(picked) == ["filters", "blend", "decaf"]


def test_products_without_a_link_and_no_room_are_left_out() -> None:
    counts = co_purchase_counts([["beans", "filters", "mug"]])
    shop = catalogue(product("beans"), product("filters", url=False), product("mug"))

    assert ids(recommend([line("beans")], counts, shop, ["coffee"])) == ["mug"]
    assert recommend([line("beans")], counts, shop, ["coffee"], k=0) == []


def test_a_recommendation_becomes_a_product_to_show() -> None:
    shown = product("filters", orders=3).as_product()

    assert (shown.name, shown.url, shown.price, shown.category) == (
        "Filters",
        f"{SHOP}/filters",
        Decimal("5"),
        "coffee",
    )


# --- properties ---------------------------------------------------------------------------------

PRODUCTS = [f"p{i}" for i in range(8)]
CATEGORIES = ["coffee", "tea", "gear", None]
product_ids = st.sampled_from(PRODUCTS)


@st.composite
def worlds(draw):
    orders = draw(st.lists(st.lists(product_ids, min_size=1, max_size=4), max_size=12))
    categories = {pid: draw(st.sampled_from(CATEGORIES)) for pid in PRODUCTS}
    popularity = {pid: draw(st.integers(0, 20)) for pid in PRODUCTS}
    shop = catalogue(*(product(pid, categories[pid], popularity[pid]) for pid in PRODUCTS))
    basket = draw(st.lists(product_ids, min_size=1, max_size=3))
    lines = [line(pid, categories[pid]) for pid in basket]
    interests = draw(st.sets(st.sampled_from(["coffee", "tea", "gear", "Coffee"])))
    before = draw(st.sets(product_ids, max_size=3))
    k = draw(st.integers(0, 4))
    return lines, co_purchase_counts(orders), shop, interests, before, k


@given(worlds())
def test_never_a_purchased_product_never_a_foreign_category_at_most_k(world) -> None:
    lines, counts, shop, interests, before, k = world

    picked = recommend(lines, counts, shop, interests, k=k, bought_before=before)

    purchased = {l.product_id for l in lines} | before
    allowed = {category_key(c) for c in interests} | {category_key(l.category) for l in lines}
    assert len(picked) <= k
    assert not purchased & set(ids(picked))
    assert all(category_key(p.category) in allowed - {None} for p in picked)
    assert len(set(ids(picked))) == len(picked)


@given(worlds())
def test_k_slots_are_filled_when_enough_products_qualify(world) -> None:
    lines, counts, shop, interests, before, k = world
    purchased = {l.product_id for l in lines} | before
    allowed = {category_key(c) for c in interests} | {category_key(l.category) for l in lines}
    qualifying = [p for p in shop.values() if p.product_id not in purchased and category_key(p.category) in allowed - {None}]

    picked = recommend(lines, counts, shop, interests, k=k, bought_before=before)

    assert len(picked) == min(k, len(qualifying))

"""The anniversary's newer or lesser-known products (domain.featured)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from boomerang.messenger.domain.featured import featured
from boomerang.messenger.domain.recommendations import CatalogueProduct

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def product(pid: str, orders: int, category: str = "coffee", url: str | None = "https://shop/x") -> CatalogueProduct:
    return CatalogueProduct(pid, pid.title(), category=category, url=url, orders=orders)


def test_new_products_come_first_newest_first_then_the_least_ordered() -> None:
    candidates = [product("old-rare", 2), product("older-rare", 5), product("new", 40), product("newest", 30)]
    first_seen = {
        "new": NOW - timedelta(days=40),
        "newest": NOW - timedelta(days=3),
        "old-rare": NOW - timedelta(days=400),
        "older-rare": NOW - timedelta(days=500),
    }
    picked = featured(candidates, first_seen, ["coffee"], [], NOW, k=3)
    assert [p.product_id for p in picked] == ["newest", "new", "old-rare"]


def test_never_what_they_bought_another_category_or_a_product_without_a_link() -> None:
    candidates = [
        product("bought", 1),
        product("gear", 1, category="Brewing Gear"),
        product("nolink", 1, url=None),
        product("fine", 9),
    ]
    picked = featured(candidates, {}, ["Coffee "], ["bought"], NOW)
    assert [p.product_id for p in picked] == ["fine"]


def test_no_interests_no_products() -> None:
    assert featured([product("a", 1)], {}, [], [], NOW) == []

"""Products bought together: the receipt's "goes well with your order".

Co-purchase counts are the number of orders (per store) that contained both products of a pair;
each product's own count is the number of orders that contained it. `recommend` ranks the
products bought with the order's products by a lift-style score, the **support-damped cosine**
(Ochiai coefficient):

    score(c) = sum over products b in the order of
               together(b, c) / sqrt(orders(b) * orders(c)) * together(b, c) / (together(b, c) + DAMPING)

The cosine divides out plain popularity (a best-seller bought with everything is not "bought with
this"), like lift, but unlike lift it does not blow up for products seen once; the damping factor
keeps a pair seen once from outranking a pair seen fifty times. When co-purchases give fewer than
`k` products, the customer's categories' best-sellers fill the rest (popularity fallback).

Never recommended: a product in this order, a product the customer bought before, a product of a
category the customer never bought or viewed (a product without a category, which cannot be
checked), a product without a link.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from math import sqrt

from boomerang.messenger.domain.content import Product
from boomerang.shared.events import OrderLine, OrderPlaced

DAMPING = 2.0  # pseudo-orders: one shared order gives a third of the cosine, fifty nearly all of it
Pair = tuple[str, str]  # two product ids, smaller first


@dataclass(frozen=True)
class CatalogueProduct:
    product_id: str
    name: str
    category: str | None = None
    url: str | None = None
    price: Decimal | None = None  # the last price an order paid
    currency: str | None = None
    orders: int = 0  # orders that contained it: its popularity
    priced_at: datetime | None = None  # when the order with that price was placed

    def as_product(self) -> Product:
        return Product(
            name=self.name, url=self.url or "", price=self.price, currency=self.currency, category=self.category
        )


@dataclass(frozen=True)
class Neighbourhood:
    """What the store knows around one order: the counts of pairs with the order's products, the
    catalogue entries of those products and their partners (and best-sellers of the customer's
    categories), the customer's categories and what they bought before."""

    counts: Mapping[Pair, int] = field(default_factory=dict)
    catalogue: Mapping[str, CatalogueProduct] = field(default_factory=dict)
    interests: frozenset[str] = frozenset()
    bought_before: frozenset[str] = frozenset()


def category_key(category: str | None) -> str | None:
    """Categories compare without case or surrounding blanks: "Coffee " is "coffee"."""
    if category is None or not category.strip():
        return None
    return category.strip().casefold()


def pair(a: str, b: str) -> Pair:
    return (a, b) if a <= b else (b, a)


def pairs_in(product_ids: Iterable[str]) -> set[Pair]:
    """Every unordered pair of distinct products in one order (a product twice counts once)."""
    ids = sorted(set(product_ids))
    return {(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]}


def co_purchase_counts(orders: Iterable[Iterable[str]]) -> Counter[Pair]:
    """How many orders contained each pair: what the store keeps, one order at a time."""
    counts: Counter[Pair] = Counter()
    for products in orders:
        counts.update(pairs_in(products))
    return counts


def order_products(order: OrderPlaced) -> list[CatalogueProduct]:
    """The order's products as catalogue entries (one per product: its last line wins)."""
    by_id = {line.product_id: _entry(line, order) for line in order.lines}
    return list(by_id.values())


def _entry(line: OrderLine, order: OrderPlaced) -> CatalogueProduct:
    return CatalogueProduct(
        product_id=line.product_id,
        name=line.name,
        category=line.category,
        url=line.url,
        price=line.unit_price,
        currency=order.currency,
        orders=1,
        priced_at=order.placed_at,
    )


def interests_in(categories: Iterable[str | None]) -> frozenset[str]:
    return frozenset(key for c in categories if (key := category_key(c)) is not None)


def recommend(
    order_lines: Sequence[OrderLine],
    counts: Mapping[Pair, int],
    catalogue: Mapping[str, CatalogueProduct],
    interests: Iterable[str],
    k: int = 3,
    bought_before: Iterable[str] = (),
) -> list[CatalogueProduct]:
    """Up to `k` products to show with this order, best first (see the module's doc)."""
    if k <= 0:
        return []
    basket = {line.product_id for line in order_lines}
    excluded = basket | set(bought_before)
    # What the customer just bought is, by definition, something they are interested in.
    wanted = interests_in(interests) | interests_in(line.category for line in order_lines)

    def eligible(product: CatalogueProduct | None) -> bool:
        return (
            product is not None
            and product.product_id not in excluded
            and bool(product.url)
            and category_key(product.category) in wanted
        )

    scores: dict[str, float] = {}
    together: Counter[str] = Counter()
    for (a, b), count in counts.items():
        if count <= 0 or (a in basket) == (b in basket):
            continue  # both in the order (nothing to suggest) or neither (not about this order)
        bought, other = (a, b) if a in basket else (b, a)
        if not eligible(catalogue.get(other)):
            continue
        scores[other] = scores.get(other, 0.0) + _score(count, _orders(catalogue, bought, count), _orders(catalogue, other, count))
        together[other] += count

    ranked = sorted(
        scores, key=lambda pid: (-scores[pid], -together[pid], -catalogue[pid].orders, pid)
    )
    picked = [catalogue[pid] for pid in ranked[:k]]
    if len(picked) < k:
        picked += popular(catalogue.values(), wanted, excluded | {p.product_id for p in picked}, k - len(picked))
    return picked


def popular(
    products: Iterable[CatalogueProduct], wanted: frozenset[str], excluded: set[str], k: int
) -> list[CatalogueProduct]:
    """The best-sellers of the wanted categories: the fallback when co-purchases are thin."""
    candidates = [
        p
        for p in products
        if p.product_id not in excluded and p.url and category_key(p.category) in wanted
    ]
    return sorted(candidates, key=lambda p: (-p.orders, p.product_id))[: max(k, 0)]


def _orders(catalogue: Mapping[str, CatalogueProduct], product_id: str, together: int) -> int:
    # A product was in at least as many orders as any pair it is part of.
    known = catalogue.get(product_id)
    return max(known.orders if known else 0, together, 1)


def _score(together: int, orders_a: int, orders_b: int) -> float:
    return together / sqrt(orders_a * orders_b) * together / (together + DAMPING)

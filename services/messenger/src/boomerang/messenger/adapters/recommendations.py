"""What the receipt's recommendations are computed from, in the messenger's store.

Per store: a small catalogue (each ordered product's name, category, link, last price and how
many orders contained it) and the co-purchase counts (both directions of each pair, so the
partners of an order's products are one indexed read). Per customer: the categories they bought
or viewed (also what the nurture series picks its guides by, `categories_of`) and the products
they bought. Every order is recorded once, by its order id, in one
transaction with all its counts: a redelivered `OrderPlaced` changes nothing.

A receipt reads its products' partners and catalogue entries, and the best-sellers of the
customer's categories; those reads are kept for `recent_s` seconds (`adapters.recent`), since
the same products recur receipt after receipt, and forgotten as soon as this process records
an order of them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Index, and_, bindparam, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, SQLModel

from boomerang.messenger.adapters.recent import RecentReads
from boomerang.messenger.adapters.sql import PreparedCache, ShortIn, loop_reads
from boomerang.messenger.domain.recommendations import (
    CatalogueProduct,
    Neighbourhood,
    category_key,
    interests_in,
    order_products,
    pair,
    pairs_in,
)
from boomerang.messenger.service_layer.ports import PlacedOrder
from boomerang.shared.events import OrderLine, OrderPlaced, ProductViewed


def _moment(**kw: Any) -> Any:
    return Field(sa_type=DateTime(timezone=True), **kw)


class ProductRow(SQLModel, table=True):
    __tablename__ = "messenger_products"
    # The best-sellers of a category: the fallback when co-purchases are thin.
    __table_args__ = (Index("ix_messenger_products_category", "store_id", "category_key", "orders"),)

    store_id: str = Field(primary_key=True, max_length=64)
    product_id: str = Field(primary_key=True, max_length=256)
    name: str
    category: str | None = None
    category_key: str | None = Field(default=None, max_length=256)  # casefolded: how they compare
    url: str | None = None
    price: str | None = Field(default=None, max_length=32)  # a Decimal as text: exact on SQLite too
    currency: str | None = Field(default=None, max_length=3)
    orders: int = 0
    priced_at: datetime | None = _moment(default=None)  # the order the details came from


class CoPurchaseRow(SQLModel, table=True):
    __tablename__ = "messenger_co_purchases"

    store_id: str = Field(primary_key=True, max_length=64)
    product_id: str = Field(primary_key=True, max_length=256)
    other_id: str = Field(primary_key=True, max_length=256)
    orders: int = 0


class RecordedOrderRow(SQLModel, table=True):
    """Orders already counted: the idempotency key of the co-purchase data."""

    __tablename__ = "messenger_recorded_orders"

    store_id: str = Field(primary_key=True, max_length=64)
    order_id: str = Field(primary_key=True, max_length=256)
    customer_id: str = Field(max_length=256)
    recorded_at: datetime = _moment()


class InterestRow(SQLModel, table=True):
    __tablename__ = "messenger_customer_interests"

    store_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(primary_key=True, max_length=256)
    category_key: str = Field(primary_key=True, max_length=256)


class PurchaseRow(SQLModel, table=True):
    __tablename__ = "messenger_customer_purchases"

    store_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(primary_key=True, max_length=256)
    product_id: str = Field(primary_key=True, max_length=256)


RECOMMENDATION_TABLES = [
    ProductRow.__table__,
    CoPurchaseRow.__table__,
    RecordedOrderRow.__table__,
    InterestRow.__table__,
    PurchaseRow.__table__,
]
_PRODUCTS = ProductRow.__table__
_PAIRS = CoPurchaseRow.__table__
_ORDERS = RecordedOrderRow.__table__
_INTERESTS = InterestRow.__table__
_PURCHASES = PurchaseRow.__table__
# A catalogue entry's columns, in the order `_to_product` unpacks them.
CATALOGUE_COLUMNS = tuple(
    _PRODUCTS.c[name]
    for name in ("product_id", "name", "category", "url", "price", "currency", "orders", "priced_at")
)


# The reads of `neighbourhood`, built once (IN lists by size, `adapters.sql.ShortIn`): building
# and cache-keying five statements per receipt cost more than running them.
_INTERESTS_OF = select(_INTERESTS.c.category_key).where(
    _INTERESTS.c.store_id == bindparam("store_id"), _INTERESTS.c.customer_id == bindparam("customer_id")
)
_PURCHASES_OF = select(_PURCHASES.c.product_id).where(
    _PURCHASES.c.store_id == bindparam("store_id"), _PURCHASES.c.customer_id == bindparam("customer_id")
)
_PARTNERS_OF = ShortIn(
    lambda basket: select(_PAIRS.c.product_id, _PAIRS.c.other_id, _PAIRS.c.orders).where(
        _PAIRS.c.store_id == bindparam("store_id"), _PAIRS.c.product_id.in_(basket)
    ),
    "basket",
)
_POPULAR_IN = ShortIn(
    lambda wanted: select(*CATALOGUE_COLUMNS)
    .where(_PRODUCTS.c.store_id == bindparam("store_id"), _PRODUCTS.c.category_key.in_(wanted))
    .order_by(_PRODUCTS.c.orders.desc(), _PRODUCTS.c.product_id)
    .limit(bindparam("limit")),
    "wanted",
)
# The customer's categories, each with the catalogue's name for it (its best-seller's: products
# may spell it differently) and how many of the customer's products are in it, most first.
_NAME_OF = (
    select(_PRODUCTS.c.category)
    .where(_PRODUCTS.c.store_id == _INTERESTS.c.store_id, _PRODUCTS.c.category_key == _INTERESTS.c.category_key)
    .order_by(_PRODUCTS.c.orders.desc(), _PRODUCTS.c.product_id)
    .limit(1)
    .scalar_subquery()
)
_BOUGHT_IN = (
    select(func.count())
    .select_from(
        _PURCHASES.join(
            _PRODUCTS,
            and_(_PRODUCTS.c.store_id == _PURCHASES.c.store_id, _PRODUCTS.c.product_id == _PURCHASES.c.product_id),
        )
    )
    .where(
        _PURCHASES.c.store_id == _INTERESTS.c.store_id,
        _PURCHASES.c.customer_id == _INTERESTS.c.customer_id,
        _PRODUCTS.c.category_key == _INTERESTS.c.category_key,
    )
    .scalar_subquery()
    .label("bought")
)
_CATEGORIES_OF = (
    select(_INTERESTS.c.category_key, _NAME_OF, _BOUGHT_IN)
    .where(_INTERESTS.c.store_id == bindparam("store_id"), _INTERESTS.c.customer_id == bindparam("customer_id"))
    .order_by(_BOUGHT_IN.desc(), _INTERESTS.c.category_key)
)
_PRODUCTS_BY_ID = ShortIn(
    lambda ids: select(*CATALOGUE_COLUMNS).where(
        _PRODUCTS.c.store_id == bindparam("store_id"), _PRODUCTS.c.product_id.in_(ids)
    ),
    "ids",
)


# Another replica's orders take at most this long to show in this one's recommendations.
RECENT_S = 5.0


class SqlRecommendations:
    def __init__(self, engine: Engine, recent_s: float = RECENT_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self._reads = loop_reads(engine)  # the event loop's turn shares one read connection
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._prepared = PreparedCache(engine.dialect.name)
        self._upserts = _upserts(self._insert, self._prepared)
        # Keyed by (store, product): a product's partners and counts; its catalogue entry (None:
        # not in the catalogue). By (store, categories, limit): best-sellers.
        self._partners: RecentReads[tuple[str, str], list[tuple[str, int]]] = RecentReads(recent_s, clock)
        self._products: RecentReads[tuple[str, str], CatalogueProduct | None] = RecentReads(recent_s, clock)
        self._popular: RecentReads[tuple[str, tuple[str, ...], int], list[CatalogueProduct]] = RecentReads(
            recent_s, clock
        )

    # --- writing ----------------------------------------------------------------------------------

    def record_order(self, store_id: str, customer_id: str, order: OrderPlaced, now: datetime) -> bool:
        """Count the order's products and pairs once; False if this order was counted before."""
        return self.record_orders([PlacedOrder(store_id, customer_id, order)], now)[0]

    def record_orders(self, orders: Sequence[PlacedOrder], now: datetime) -> list[bool]:
        """`record_order` for each, in one transaction (a consumer batch's orders): one write of
        each table's pages instead of one per order. False for an order counted before."""
        statements = self._upserts
        # Each product and pair once per batch, with how many of the batch's orders had it: a
        # best-seller is in many of them, and each row written is an index lookup and update.
        products: dict[tuple[str, str], tuple[CatalogueProduct, int]] = {}
        pairs: Counter[tuple[str, str, str]] = Counter()
        purchases: set[tuple[str, str, str]] = set()
        interests: set[tuple[str, str, str]] = set()
        counted = []
        with self._engine.begin() as conn:
            for store_id, customer_id, order in orders:
                claimed = statements["order"].first(
                    conn, {"store_id": store_id, "order_id": order.order_id, "customer_id": customer_id, "recorded_at": now}
                )
                counted.append(claimed is not None)
                if claimed is None:
                    continue
                bought = order_products(order)
                for product in bought:
                    seen = products.get((store_id, product.product_id))
                    products[store_id, product.product_id] = (
                        (product, 1) if seen is None else (_newer(seen[0], product), seen[1] + 1)
                    )
                pairs.update((store_id, a, b) for a, b in _both_ways(pairs_in(p.product_id for p in bought)))
                purchases |= {(store_id, customer_id, p.product_id) for p in bought}
                interests |= {(store_id, customer_id, k) for k in _keys(p.category for p in bought)}
            # Sorted keys: concurrent batches take row locks in one order, so they cannot deadlock.
            # One executemany per table, with statements built once: building and compiling a
            # statement per row cost more than the database's work.
            statements["product"].run_many(conn, [
                _product_row(store_id, product, orders) for (store_id, _), (product, orders) in sorted(products.items())
            ])
            statements["pair"].run_many(conn, [
                {"store_id": s, "product_id": a, "other_id": b, "orders": n} for (s, a, b), n in sorted(pairs.items())
            ])
            statements["purchase"].run_many(conn, [
                {"store_id": s, "customer_id": c, "product_id": p} for s, c, p in sorted(purchases)
            ])
            statements["interest"].run_many(conn, [
                {"store_id": s, "customer_id": c, "category_key": k} for s, c, k in sorted(interests)
            ])
        self._forget(set(products))
        return counted

    def _forget(self, changed: set[tuple[str, str]]) -> None:
        """What this process just wrote is read afresh: its counts, entries, best-sellers."""
        self._partners.forget(changed)
        self._products.forget(changed)
        stores = {store_id for store_id, _ in changed}
        self._popular.forget_where(lambda key: key[0] in stores)

    def record_view(self, store_id: str, customer_id: str, event: ProductViewed) -> None:
        """A viewed product's category is one the customer shows interest in."""
        customer = {"store_id": store_id, "customer_id": customer_id}
        rows = [{**customer, "category_key": key} for key in _keys([event.category])]
        with self._engine.begin() as conn:
            self._upserts["interest"].run_many(conn, rows)

    # --- reading ----------------------------------------------------------------------------------

    def neighbourhood(
        self, store_id: str, customer_id: str, order_lines: Sequence[OrderLine], k: int
    ) -> Neighbourhood:
        """The counts, catalogue entries and customer facts `domain.recommendations.recommend`
        needs for an order of `order_lines`, and no more of the store's data."""
        basket = sorted({line.product_id for line in order_lines})
        customer = {"store_id": store_id, "customer_id": customer_id}
        run = self._read
        with self._reads.connect() as conn:
            interests = frozenset(key for (key,) in run(conn, _INTERESTS_OF, customer))
            bought = frozenset(product for (product,) in run(conn, _PURCHASES_OF, customer))
            partners = self._partners_of(conn, store_id, basket)
            wanted = tuple(sorted(interests | _keys(line.category for line in order_lines)))
            # Enough best-sellers to fill k slots after leaving out what the customer has.
            popular = self._popular_in(conn, store_id, wanted, k + len(basket) + len(bought))
            listed = self._catalogue(conn, store_id, {b for rows in partners.values() for b, _ in rows} | set(basket))
        counts = {pair(a, b): n for a, rows in partners.items() for b, n in rows}
        catalogue: dict[str, CatalogueProduct] = {}
        for product in (*popular, *listed):  # a best-seller may be a partner too: one entry each
            if product.product_id not in catalogue:
                catalogue[product.product_id] = product
        return Neighbourhood(counts, catalogue, interests, bought)

    def _partners_of(self, conn: Connection, store_id: str, basket: list[str]) -> dict[str, list[tuple[str, int]]]:
        found, missing = self._partners.get_many((store_id, p) for p in basket)
        if missing:
            read: dict[tuple[str, str], list[tuple[str, int]]] = {key: [] for key in missing}
            for a, b, n in self._read(conn, *_PARTNERS_OF([p for _, p in missing], store_id=store_id)):
                read[(store_id, a)].append((b, n))
            self._partners.put_many(read)
            found |= read
        return {p: found[(store_id, p)] for p in basket}

    def _popular_in(self, conn: Connection, store_id: str, wanted: tuple[str, ...], limit: int) -> list[CatalogueProduct]:
        key = (store_id, wanted, limit)
        found, missing = self._popular.get_many([key])
        if missing:
            rows = self._read(conn, *_POPULAR_IN(list(wanted), store_id=store_id, limit=limit))
            found = {key: [_to_product(row) for row in rows]}
            self._popular.put_many(found)
        return found[key]

    def _catalogue(self, conn: Connection, store_id: str, ids: set[str]) -> list[CatalogueProduct]:
        found, missing = self._products.get_many((store_id, i) for i in sorted(ids))
        if missing:
            read: dict[tuple[str, str], CatalogueProduct | None] = dict.fromkeys(missing)
            for row in self._read(conn, *_PRODUCTS_BY_ID([i for _, i in missing], store_id=store_id)):
                read[(store_id, row[0])] = _to_product(row)
            self._products.put_many(read)
            found |= read
        return [product for product in found.values() if product is not None]

    def categories_of(self, store_id: str, customer_id: str) -> list[str]:
        """The customer's categories, bought or viewed, most bought first; each by the catalogue's
        name for it (a category nobody ordered is known by its key only: views keep no name)."""
        with self._reads.connect() as conn:
            rows = self._read(conn, _CATEGORIES_OF, {"store_id": store_id, "customer_id": customer_id})
        return [(name or "").strip() or key for key, name, _ in rows]

    def _read(self, conn: Connection, statement: Any, params: dict[str, Any]) -> list[tuple]:
        return self._prepared(statement).all(conn, params)


def _newer(kept: CatalogueProduct, later: CatalogueProduct) -> CatalogueProduct:
    """Of two orders' entries for one product, the one a row updated by both in turn would end
    with: the later, unless it was priced before (as the upsert's `newer`)."""
    if later.priced_at is None or (kept.priced_at is not None and later.priced_at < kept.priced_at):
        return kept
    return later


def _product_row(store_id: str, product: CatalogueProduct, orders: int) -> dict[str, Any]:
    return {
        "store_id": store_id,
        "product_id": product.product_id,
        "name": product.name,
        "category": product.category,
        "category_key": category_key(product.category),
        "url": product.url,
        "price": str(product.price) if product.price is not None else None,
        "currency": product.currency,
        "orders": orders,
        "priced_at": product.priced_at,
    }


def _upserts(insert: Any, prepare: PreparedCache) -> dict[str, Any]:
    """The statements of `record_order`, compiled once per adapter: SQLAlchemy does not cache the
    dialects' INSERT ... ON CONFLICT (it compiled each one per call, more work than SQLite's)."""
    product = insert(_PRODUCTS)
    pair = insert(_PAIRS)
    # A replayed older order still counts, but must not bring back an old name or price.
    newer = product.excluded.priced_at >= _PRODUCTS.c.priced_at
    details = {
        name: case((newer, product.excluded[name]), else_=_PRODUCTS.c[name])
        for name in ("name", "category", "category_key", "url", "price", "currency", "priced_at")
    }
    statements = {
        # psycopg reports no rowcount for this statement: RETURNING tells whether it inserted.
        "order": (_ORDERS, insert(_ORDERS).on_conflict_do_nothing().returning(_ORDERS.c.order_id)),
        "product": (_PRODUCTS, product.on_conflict_do_update(
            index_elements=["store_id", "product_id"], set_={**details, "orders": _PRODUCTS.c.orders + product.excluded.orders}
        )),
        "pair": (_PAIRS, pair.on_conflict_do_update(
            index_elements=["store_id", "product_id", "other_id"], set_={"orders": _PAIRS.c.orders + pair.excluded.orders}
        )),
        "purchase": (_PURCHASES, insert(_PURCHASES).on_conflict_do_nothing()),
        "interest": (_INTERESTS, insert(_INTERESTS).on_conflict_do_nothing()),
    }
    return {
        name: prepare(statement, column_keys=[column.name for column in table.c])
        for name, (table, statement) in statements.items()
    }


def _both_ways(pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    return {p for a, b in pairs for p in ((a, b), (b, a))}


def _keys(categories: Iterable[str | None]) -> frozenset[str]:
    return interests_in(categories)


def _to_product(row: Any) -> CatalogueProduct:
    """A row of CATALOGUE_COLUMNS (unpacked by position: a receipt reads a dozen of them)."""
    product_id, name, category, url, price, currency, orders, priced_at = row
    if priced_at is not None and priced_at.tzinfo is None:  # SQLite drops the zone; it was UTC
        priced_at = priced_at.replace(tzinfo=UTC)
    price = Decimal(price) if price is not None else None
    return CatalogueProduct(product_id, name, category, url, price, currency, orders, priced_at)

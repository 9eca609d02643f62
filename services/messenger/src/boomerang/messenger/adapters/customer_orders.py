"""Each customer's orders, refunds and yearly dates, as the messenger's lifecycle triggers need them.

- `messenger_customer_orders` and `..._order_lines`: one row per order id (and product), so a
  redelivered `OrderPlaced` changes nothing; VIP milestones count them, replenishment reads the
  customer's purchases of a product, the anniversary's "new" products their first order.
- `messenger_customer_refunds`: one row per refund (its id, else its envelope's), for net spend.
- `messenger_customer_dates`: the birthday and the first order's day, indexed by "MM-DD" so the
  daily sweep reads only the customers whose day is near (`domain.customer_dates`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, DateTime, Index, bindparam, func, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from boomerang.messenger.adapters.recommendations import (
    CATALOGUE_COLUMNS,
    InterestRow,
    ProductRow,
    PurchaseRow,
    _to_product,
)
from boomerang.messenger.adapters.sql import PreparedCache, ShortIn, loop_reads
from boomerang.messenger.domain.customer_dates import BIRTHDAY, FIRST_PURCHASE, CustomerDate, month_day
from boomerang.messenger.domain.milestones import OrderFact
from boomerang.messenger.domain.featured import Discoveries
from boomerang.messenger.domain.replenishment import Purchase
from boomerang.messenger.service_layer.lifecycle_triggers import OrderRecord
from boomerang.messenger.service_layer.ports import PlacedOrder
from boomerang.shared.events import OrderPlaced


def _moment(**kw: Any) -> Any:
    return Field(sa_type=DateTime(timezone=True), **kw)


class CustomerOrderRow(SQLModel, table=True):
    __tablename__ = "messenger_customer_orders"
    __table_args__ = (Index("ix_messenger_customer_orders_customer", "store_id", "customer_id"),)

    store_id: str = Field(primary_key=True, max_length=64)
    order_id: str = Field(primary_key=True, max_length=256)
    customer_id: str = Field(max_length=256)
    placed_at: datetime = _moment()
    total: str = Field(max_length=32)  # a Decimal as text: exact on SQLite too
    currency: str = Field(max_length=3)


class CustomerOrderLineRow(SQLModel, table=True):
    __tablename__ = "messenger_customer_order_lines"
    __table_args__ = (
        Index("ix_messenger_customer_order_lines_customer", "store_id", "customer_id", "product_id"),
        # When a product was first ordered by anyone: the anniversary's "new" products.
        Index("ix_messenger_customer_order_lines_product", "store_id", "product_id", "placed_at"),
    )

    store_id: str = Field(primary_key=True, max_length=64)
    order_id: str = Field(primary_key=True, max_length=256)
    product_id: str = Field(primary_key=True, max_length=256)
    customer_id: str = Field(max_length=256)
    placed_at: datetime = _moment()


class CustomerRefundRow(SQLModel, table=True):
    __tablename__ = "messenger_customer_refunds"
    __table_args__ = (Index("ix_messenger_customer_refunds_customer", "store_id", "customer_id"),)

    store_id: str = Field(primary_key=True, max_length=64)
    refund_key: str = Field(primary_key=True, max_length=256)
    order_id: str = Field(max_length=256)
    customer_id: str = Field(max_length=256)
    amount: str = Field(max_length=32)


class CustomerDateRow(SQLModel, table=True):
    __tablename__ = "messenger_customer_dates"
    __table_args__ = (Index("ix_messenger_customer_dates_month_day", "month_day"),)

    store_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(primary_key=True, max_length=256)
    occasion: str = Field(primary_key=True, max_length=16)
    day: date = Field(sa_type=Date)
    month_day: str = Field(max_length=5)
    happened_at: datetime | None = _moment(default=None)


CUSTOMER_ORDER_TABLES = [
    CustomerOrderRow.__table__,
    CustomerOrderLineRow.__table__,
    CustomerRefundRow.__table__,
    CustomerDateRow.__table__,
]
_ORDERS = CustomerOrderRow.__table__
_LINES = CustomerOrderLineRow.__table__
_REFUNDS = CustomerRefundRow.__table__
_DATES = CustomerDateRow.__table__
_PRODUCTS = ProductRow.__table__
_INTERESTS = InterestRow.__table__
_PURCHASES = PurchaseRow.__table__
# Enough of a customer's categories' lesser-known products to fill three slots after the
# ones they bought are left out.
_CANDIDATES = 30


class SqlCustomerOrders:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reads = loop_reads(engine)  # the event loop's turn shares one read connection
        self._statements = _statements()
        self._prepared = PreparedCache(engine.dialect.name)

    # --- writing ----------------------------------------------------------------------------------

    def record_order(self, store_id: str, customer_id: str, order: OrderPlaced) -> OrderRecord:
        """The order, its products and (if it is the earliest) the first purchase day, once;
        and the customer's record after it."""
        return self.record_orders([PlacedOrder(store_id, customer_id, order)])[0]

    def record_orders(self, orders: Sequence[PlacedOrder]) -> list[OrderRecord]:
        """`record_order` for each, in one transaction: this runs for every order, and a
        consumer batch's orders share the commit."""
        with self._engine.begin() as conn:
            return [self._record(conn, *placed) for placed in orders]

    def _record(self, conn: Any, store_id: str, customer_id: str, order: OrderPlaced) -> OrderRecord:
        placed_at = order.placed_at.astimezone(UTC)  # SQLite keeps no offset: store UTC
        keys = {"store_id": store_id, "customer_id": customer_id}
        day = placed_at.date()
        products = sorted({line.product_id for line in order.lines})
        statements, prepared = self._statements, self._prepared
        prepared(statements["order"]).run(
            conn,
            {**keys, "order_id": order.order_id, "placed_at": placed_at, "total": str(order.total),
             "currency": order.currency.upper()[:3]},
        )  # fmt: skip
        line = {**keys, "order_id": order.order_id, "placed_at": placed_at}
        prepared(statements["line"]).run_many(conn, [{**line, "product_id": p} for p in products])
        first = {"occasion": FIRST_PURCHASE, "day": day, "month_day": month_day(day), "happened_at": placed_at}
        prepared(statements["first_purchase"]).run(conn, {**keys, **first})
        params = {"b_store": store_id, "b_customer": customer_id}
        orders = prepared(statements["orders_of"]).all(conn, params)
        refunds = prepared(statements["refunds_of"]).all(conn, params)
        purchases = self._purchases(conn, store_id, customer_id, products)
        return OrderRecord(_net(orders, refunds), purchases)

    def record_refund(
        self, store_id: str, customer_id: str, refund_key: str, order_id: str, amount: Decimal
    ) -> None:
        row = {
            "store_id": store_id,
            "refund_key": refund_key,
            "order_id": order_id,
            "customer_id": customer_id,
            "amount": str(amount),
        }
        with self._engine.begin() as conn:
            conn.execute(self._statements["refund"], row)

    def record_cancellation(self, store_id: str, customer_id: str, order_id: str) -> None:
        """A cancelled order counts as refunded in full (once; nothing if it is not recorded)."""
        params = {"store_id": store_id, "customer_id": customer_id, "order_id": order_id}
        with self._engine.begin() as conn:
            conn.execute(self._statements["cancel"], {**params, "refund_key": f"cancelled:{order_id}"})

    def set_birthday(self, store_id: str, customer_id: str, birthday: date) -> None:
        row = {
            "store_id": store_id,
            "customer_id": customer_id,
            "occasion": BIRTHDAY,
            "day": birthday,
            "month_day": month_day(birthday),
            "happened_at": None,
        }
        with self._engine.begin() as conn:
            conn.execute(self._statements["birthday"], row)

    # --- reading ----------------------------------------------------------------------------------

    def orders_of(self, store_id: str, customer_id: str) -> list[OrderFact]:
        """The customer's orders, each net of the refunds recorded against it."""
        params = {"b_store": store_id, "b_customer": customer_id}
        with self._reads.connect() as conn:
            orders = conn.execute(self._statements["orders_of"], params).all()
            refunds = conn.execute(self._statements["refunds_of"], params).all()
        return _net(orders, refunds)

    def purchases_of(
        self, store_id: str, customer_id: str, product_ids: Sequence[str]
    ) -> dict[str, list[Purchase]]:
        """The customer's orders of each of `product_ids`."""
        with self._reads.connect() as conn:
            return self._purchases(conn, store_id, customer_id, product_ids)

    def _purchases(
        self, conn: Any, store_id: str, customer_id: str, product_ids: Sequence[str]
    ) -> dict[str, list[Purchase]]:
        found: dict[str, list[Purchase]] = {product_id: [] for product_id in product_ids}
        if not product_ids:
            return found
        statement = self._statements["purchases_of"]
        read, params = statement(sorted(set(product_ids)), b_store=store_id, b_customer=customer_id)
        rows = self._prepared(read).all(conn, params)
        for product_id, order_id, placed_at in rows:
            found[product_id].append(Purchase(order_id, _utc(placed_at)))
        return found

    def first_purchase(self, store_id: str, customer_id: str) -> datetime | None:
        with self._reads.connect() as conn:
            moment = conn.scalar(
                self._statements["first_purchase_of"], {"b_store": store_id, "b_customer": customer_id}
            )
        return _utc(moment) if moment is not None else None

    def dates_on(self, month_days: Iterable[str]) -> list[CustomerDate]:
        """Every stored occasion whose month and day is one of `month_days` (the index)."""
        with self._reads.connect() as conn:
            rows = conn.execute(self._statements["dates_on"], {"b_days": sorted(set(month_days))}).all()
        return [
            CustomerDate(
                row.store_id,
                row.customer_id,
                row.occasion,
                row.day,
                _utc(row.happened_at) if row.happened_at is not None else None,
            )
            for row in rows
        ]

    def discoveries(self, store_id: str, customer_id: str) -> Discoveries:
        """For `domain.featured.featured`: the lesser-known products of the customer's categories,
        when each was first ordered, the customer's categories and what they bought."""
        statements = self._statements
        customer = {"b_store": store_id, "b_customer": customer_id}
        with self._reads.connect() as conn:
            interests = frozenset(conn.scalars(statements["interests_of"], customer))
            bought = frozenset(conn.scalars(statements["bought_by"], customer))
            wanted = {"b_store": store_id, "b_categories": sorted(interests), "b_limit": _CANDIDATES + len(bought)}
            rows = conn.execute(statements["lesser_known"], wanted).all()
            candidates = [_to_product(row) for row in rows]
            ids = [p.product_id for p in candidates]
            first = conn.execute(statements["first_ordered"], {"b_store": store_id, "b_products": ids}).all()
        first_seen = {product_id: _utc(moment) for product_id, moment in first if moment is not None}
        return Discoveries(candidates, first_seen, interests, bought)


def _statements() -> dict[str, Any]:
    """Built once per adapter. The writes are plain SQL (ON CONFLICT reads the same on SQLite and
    PostgreSQL): SQLAlchemy cannot cache a dialect's upsert construct and compiled each one
    anew, which cost more than the database's own work on every order. The reads are built once
    too (IN lists as expanding parameters, or by size for the order's products): building and
    cache-keying a select on every order cost about as much as running it."""
    moment = DateTime(timezone=True)
    return {
        **_reads(),
        "order": text(
            "INSERT INTO messenger_customer_orders (store_id, order_id, customer_id, placed_at, total, currency)"
            " VALUES (:store_id, :order_id, :customer_id, :placed_at, :total, :currency) ON CONFLICT DO NOTHING"
        ).bindparams(bindparam("placed_at", type_=moment)),
        "line": text(
            "INSERT INTO messenger_customer_order_lines (store_id, order_id, product_id, customer_id, placed_at)"
            " VALUES (:store_id, :order_id, :product_id, :customer_id, :placed_at) ON CONFLICT DO NOTHING"
        ).bindparams(bindparam("placed_at", type_=moment)),
        # A late replay of an older order moves the first purchase back; a newer one does not.
        "first_purchase": text(
            "INSERT INTO messenger_customer_dates (store_id, customer_id, occasion, day, month_day, happened_at)"
            " VALUES (:store_id, :customer_id, :occasion, :day, :month_day, :happened_at)"
            " ON CONFLICT (store_id, customer_id, occasion) DO UPDATE SET day = excluded.day,"
            " month_day = excluded.month_day, happened_at = excluded.happened_at"
            " WHERE excluded.happened_at < messenger_customer_dates.happened_at"
        ).bindparams(bindparam("day", type_=Date()), bindparam("happened_at", type_=moment)),
        "refund": text(
            "INSERT INTO messenger_customer_refunds (store_id, refund_key, order_id, customer_id, amount)"
            " VALUES (:store_id, :refund_key, :order_id, :customer_id, :amount) ON CONFLICT DO NOTHING"
        ),
        "birthday": text(
            "INSERT INTO messenger_customer_dates (store_id, customer_id, occasion, day, month_day, happened_at)"
            " VALUES (:store_id, :customer_id, :occasion, :day, :month_day, :happened_at)"
            " ON CONFLICT (store_id, customer_id, occasion) DO UPDATE SET day = excluded.day,"
            " month_day = excluded.month_day, happened_at = excluded.happened_at"
        ).bindparams(bindparam("day", type_=Date()), bindparam("happened_at", type_=moment)),
        "cancel": text(
            "INSERT INTO messenger_customer_refunds (store_id, refund_key, order_id, customer_id, amount)"
            " SELECT store_id, :refund_key, order_id, customer_id, total FROM messenger_customer_orders"
            " WHERE store_id = :store_id AND order_id = :order_id AND customer_id = :customer_id"
            " ON CONFLICT DO NOTHING"
        ),
    }


def _reads() -> dict[str, Any]:
    store = bindparam("b_store")
    customer = bindparam("b_customer")
    products = bindparam("b_products", expanding=True)
    return {
        "orders_of": select(_ORDERS.c.order_id, _ORDERS.c.placed_at, _ORDERS.c.total, _ORDERS.c.currency).where(
            _ORDERS.c.store_id == store, _ORDERS.c.customer_id == customer
        ),
        "refunds_of": select(_REFUNDS.c.order_id, _REFUNDS.c.amount).where(
            _REFUNDS.c.store_id == store, _REFUNDS.c.customer_id == customer
        ),
        # An order's products: a short list, on every order (`adapters.sql.ShortIn`).
        "purchases_of": ShortIn(
            lambda ids: select(_LINES.c.product_id, _LINES.c.order_id, _LINES.c.placed_at).where(
                _LINES.c.store_id == store, _LINES.c.customer_id == customer, _LINES.c.product_id.in_(ids)
            ),
            "b_products",
        ),
        "first_purchase_of": select(_DATES.c.happened_at).where(
            _DATES.c.store_id == store, _DATES.c.customer_id == customer, _DATES.c.occasion == FIRST_PURCHASE
        ),
        "dates_on": select(_DATES).where(_DATES.c.month_day.in_(bindparam("b_days", expanding=True))),
        "interests_of": select(_INTERESTS.c.category_key).where(
            _INTERESTS.c.store_id == store, _INTERESTS.c.customer_id == customer
        ),
        "bought_by": select(_PURCHASES.c.product_id).where(
            _PURCHASES.c.store_id == store, _PURCHASES.c.customer_id == customer
        ),
        "lesser_known": select(*CATALOGUE_COLUMNS)
        .where(
            _PRODUCTS.c.store_id == store, _PRODUCTS.c.category_key.in_(bindparam("b_categories", expanding=True))
        )
        .order_by(_PRODUCTS.c.orders, _PRODUCTS.c.product_id)
        .limit(bindparam("b_limit")),
        "first_ordered": select(_LINES.c.product_id, func.min(_LINES.c.placed_at))
        .where(_LINES.c.store_id == store, _LINES.c.product_id.in_(products))
        .group_by(_LINES.c.product_id),
    }


def _net(orders: Sequence[Any], refunds: Sequence[Any]) -> list[OrderFact]:
    refunded: dict[str, Decimal] = {}
    for order_id, amount in refunds:
        refunded[order_id] = refunded.get(order_id, Decimal(0)) + Decimal(amount)
    return [
        OrderFact(order_id, _utc(placed_at), _net_of(Decimal(total), refunded.get(order_id)), currency)
        for order_id, placed_at, total, currency in orders
    ]


def _net_of(total: Decimal, refunded: Decimal | None) -> Decimal:
    return max(total - (refunded or Decimal(0)), Decimal(0))  # refunds never make an order negative


def _utc(moment: Any) -> Any:
    # SQLite hands datetimes back without their zone; they were written in UTC. `min()` over
    # them comes back as text on SQLite.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)

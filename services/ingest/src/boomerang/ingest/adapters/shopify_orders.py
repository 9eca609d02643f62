"""SQL for the Shopify order → customer map (SQLite or PostgreSQL), in the style of repositories.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from boomerang.ingest.adapters.repositories import _in_thread
from boomerang.ingest.adapters.tables import ShopifyOrderRow, utc


class SqlShopifyOrders:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def remember(self, store_id: str, order_id: str, customer_id: str, at: datetime) -> None:
        await _in_thread(self._remember, store_id, order_id, customer_id, at)

    async def customer_of(self, store_id: str, order_id: str) -> str | None:
        return await _in_thread(self._customer_of, store_id, order_id)

    def _remember(self, store_id: str, order_id: str, customer_id: str, at: datetime) -> None:
        # An upsert: orders/create, orders/paid and redeliveries all name the same order.
        insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        statement = insert(ShopifyOrderRow).values(
            store_id=store_id, order_id=order_id, customer_id=customer_id, seen_at=utc(at)
        )
        statement = statement.on_conflict_do_update(
            index_elements=["store_id", "order_id"],
            set_={"customer_id": statement.excluded.customer_id, "seen_at": statement.excluded.seen_at},
        )
        with Session(self._engine) as session:
            session.execute(statement)
            session.commit()

    def _customer_of(self, store_id: str, order_id: str) -> str | None:
        with Session(self._engine) as session:
            row = session.get(ShopifyOrderRow, (store_id, order_id))
            return row.customer_id if row else None

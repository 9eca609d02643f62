"""What the receipt's recommendations are computed from (adapters/recommendations.py).

Per store, a small product catalogue (`messenger_products`: name, category, link, last price,
orders containing it) and co-purchase counts (`messenger_co_purchases`, both directions of each
pair); per customer, the categories bought or viewed and the products bought; and the orders
already counted (`messenger_recorded_orders`), so a redelivered order does not count twice.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ids(*names: str) -> list[sa.Column]:
    lengths = {"store_id": 64}
    return [sa.Column(name, sa.String(length=lengths.get(name, 256)), nullable=False) for name in names]


def upgrade() -> None:
    op.create_table(
        "messenger_products",
        *_ids("store_id", "product_id"),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=True),
        sa.Column("category_key", sa.String(length=256), nullable=True),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("price", sa.String(length=32), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("priced_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("store_id", "product_id"),
    )
    op.create_index(
        "ix_messenger_products_category", "messenger_products", ["store_id", "category_key", "orders"]
    )
    op.create_table(
        "messenger_co_purchases",
        *_ids("store_id", "product_id", "other_id"),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "product_id", "other_id"),
    )
    op.create_table(
        "messenger_recorded_orders",
        *_ids("store_id", "order_id", "customer_id"),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "order_id"),
    )
    op.create_table(
        "messenger_customer_interests",
        *_ids("store_id", "customer_id", "category_key"),
        sa.PrimaryKeyConstraint("store_id", "customer_id", "category_key"),
    )
    op.create_table(
        "messenger_customer_purchases",
        *_ids("store_id", "customer_id", "product_id"),
        sa.PrimaryKeyConstraint("store_id", "customer_id", "product_id"),
    )


def downgrade() -> None:
    op.drop_table("messenger_customer_purchases")
    op.drop_table("messenger_customer_interests")
    op.drop_table("messenger_recorded_orders")
    op.drop_table("messenger_co_purchases")
    op.drop_index("ix_messenger_products_category", table_name="messenger_products")
    op.drop_table("messenger_products")

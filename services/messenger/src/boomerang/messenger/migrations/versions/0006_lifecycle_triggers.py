"""What the VIP milestone, birthday, anniversary and replenishment flows start from
(adapters/customer_orders.py).

The contact's birthday (from `CustomerIdentified`); each customer's orders (one row per order id,
with its total), their products and their refunds; and the yearly dates (birthday, first order's
day) indexed by "MM-DD", so the daily sweep reads only the customers whose day is near.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ids(*names: str) -> list[sa.Column]:
    lengths = {"store_id": 64, "occasion": 16}
    return [sa.Column(name, sa.String(length=lengths.get(name, 256)), nullable=False) for name in names]


def upgrade() -> None:
    with op.batch_alter_table("messenger_contacts") as batch:
        batch.add_column(sa.Column("birthday", sa.Date(), nullable=True))
    op.create_table(
        "messenger_customer_orders",
        *_ids("store_id", "order_id", "customer_id"),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "order_id"),
    )
    op.create_index(
        "ix_messenger_customer_orders_customer", "messenger_customer_orders", ["store_id", "customer_id"]
    )
    op.create_table(
        "messenger_customer_order_lines",
        *_ids("store_id", "order_id", "product_id", "customer_id"),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "order_id", "product_id"),
    )
    op.create_index(
        "ix_messenger_customer_order_lines_customer",
        "messenger_customer_order_lines",
        ["store_id", "customer_id", "product_id"],
    )
    op.create_index(
        "ix_messenger_customer_order_lines_product",
        "messenger_customer_order_lines",
        ["store_id", "product_id", "placed_at"],
    )
    op.create_table(
        "messenger_customer_refunds",
        *_ids("store_id", "refund_key", "order_id", "customer_id"),
        sa.Column("amount", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "refund_key"),
    )
    op.create_index(
        "ix_messenger_customer_refunds_customer", "messenger_customer_refunds", ["store_id", "customer_id"]
    )
    op.create_table(
        "messenger_customer_dates",
        *_ids("store_id", "customer_id", "occasion"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("month_day", sa.String(length=5), nullable=False),
        sa.Column("happened_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("store_id", "customer_id", "occasion"),
    )
    op.create_index("ix_messenger_customer_dates_month_day", "messenger_customer_dates", ["month_day"])


def downgrade() -> None:
    op.drop_index("ix_messenger_customer_dates_month_day", table_name="messenger_customer_dates")
    op.drop_table("messenger_customer_dates")
    op.drop_index("ix_messenger_customer_refunds_customer", table_name="messenger_customer_refunds")
    op.drop_table("messenger_customer_refunds")
    op.drop_index("ix_messenger_customer_order_lines_product", table_name="messenger_customer_order_lines")
    op.drop_index("ix_messenger_customer_order_lines_customer", table_name="messenger_customer_order_lines")
    op.drop_table("messenger_customer_order_lines")
    op.drop_index("ix_messenger_customer_orders_customer", table_name="messenger_customer_orders")
    op.drop_table("messenger_customer_orders")
    with op.batch_alter_table("messenger_contacts") as batch:
        batch.drop_column("birthday")

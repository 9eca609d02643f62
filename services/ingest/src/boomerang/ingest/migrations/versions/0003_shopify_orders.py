"""Which customer each Shopify order belongs to (refunds/create names only the order).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ingest_shopify_orders',
    sa.Column('store_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.String(length=256), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('store_id', 'order_id')
    )


def downgrade() -> None:
    op.drop_table('ingest_shopify_orders')

"""Coupons: one unique code per message, with its offer, expiry and redemption.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "messenger_coupons",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=1024), nullable=False),
        sa.Column("customer_id", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("redeemed_order_id", sa.String(length=256), nullable=True),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("store_id", "code"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_messenger_coupons_customer", "messenger_coupons", ["store_id", "customer_id"])


def downgrade() -> None:
    op.drop_index("ix_messenger_coupons_customer", table_name="messenger_coupons")
    op.drop_table("messenger_coupons")

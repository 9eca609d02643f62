"""Customers' current segments (broadcast audiences) and the operators' broadcasts.

`messenger_segment_members` keeps each customer's latest segment per dimension from
customer.segments.v1, with their orders and spend at that change; an index finds a segment's
members in customer order. `messenger_campaigns` keeps each broadcast's content once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "messenger_segment_members",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=256), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("segment", sa.String(length=32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("net_revenue", sa.Numeric(14, 2), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "customer_id", "dimension"),
    )
    op.create_index(
        "ix_messenger_segment_members_segment",
        "messenger_segment_members",
        ["store_id", "segment", "customer_id"],
    )
    op.create_table(
        "messenger_campaigns",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=128), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("segments_any", sa.Text(), nullable=True),
        sa.Column("segments_none", sa.Text(), nullable=True),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "campaign_id"),
    )


def downgrade() -> None:
    op.drop_table("messenger_campaigns")
    op.drop_index("ix_messenger_segment_members_segment", table_name="messenger_segment_members")
    op.drop_table("messenger_segment_members")

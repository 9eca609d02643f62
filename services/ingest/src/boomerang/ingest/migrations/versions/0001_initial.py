"""Stores, their hashed write keys, and the messageId de-duplication window.

Exactly what `SQLModel.metadata.create_all` built before ingest had migrations, so databases made
that way are stamped at this revision rather than rebuilt.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_stores",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "ingest_write_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["store_id"], ["ingest_stores.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_index("ix_ingest_write_keys_store_id", "ingest_write_keys", ["store_id"])
    op.create_table(
        "ingest_seen_messages",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "message_id"),
    )
    op.create_index("ix_ingest_seen_messages_seen_at", "ingest_seen_messages", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_ingest_seen_messages_seen_at", table_name="ingest_seen_messages")
    op.drop_table("ingest_seen_messages")
    op.drop_index("ix_ingest_write_keys_store_id", table_name="ingest_write_keys")
    op.drop_table("ingest_write_keys")
    op.drop_table("ingest_stores")

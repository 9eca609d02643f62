"""Contact cards and the send ledger.

Exactly what `SQLModel.metadata.create_all` built before the messenger had migrations, so databases
made that way are stamped at this revision rather than rebuilt.

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
        "messenger_contacts",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=256), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("email_consent", sa.Boolean(), nullable=True),
        sa.Column("sms_consent", sa.Boolean(), nullable=True),
        sa.Column("locale", sa.String(length=35), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("first_name", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("store_id", "customer_id"),
    )
    op.create_table(
        "messenger_send_ledger",
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=256), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("trigger_id", sa.String(length=256), nullable=False),
        sa.Column("trigger_event_id", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipient", sa.String(), nullable=True),
        sa.Column("body_digest", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("provider_message_id", sa.String(), nullable=True),
        sa.Column("provider_status", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("duplicate_hits", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index("ix_messenger_send_ledger_state", "messenger_send_ledger", ["state"])


def downgrade() -> None:
    op.drop_index("ix_messenger_send_ledger_state", table_name="messenger_send_ledger")
    op.drop_table("messenger_send_ledger")
    op.drop_table("messenger_contacts")

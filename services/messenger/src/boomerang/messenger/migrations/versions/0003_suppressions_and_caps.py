"""The suppression list, and what the frequency caps need from the send ledger.

`messenger_suppressions` keeps the latest change per customer, channel, block and address
(unsubscribe, spam complaint, hard bounce, SMS STOP/START from feedback.events.v1). The ledger
gains each entry's purpose and priority (rows written before are receipts: transactional) and,
for delayed entries, when they are due; and an index to read one customer's history.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "messenger_suppressions",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=256), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("block", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("lift", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "customer_id", "channel", "block", "address"),
    )
    with op.batch_alter_table("messenger_send_ledger") as batch:
        batch.add_column(sa.Column("purpose", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_messenger_send_ledger_customer",
        "messenger_send_ledger",
        ["store_id", "customer_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_messenger_send_ledger_customer", table_name="messenger_send_ledger")
    with op.batch_alter_table("messenger_send_ledger") as batch:
        batch.drop_column("due_at")
        batch.drop_column("priority")
        batch.drop_column("purpose")
    op.drop_table("messenger_suppressions")

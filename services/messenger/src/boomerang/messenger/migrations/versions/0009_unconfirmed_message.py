"""A send the provider may or may not have taken keeps its message until it can be looked up.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messenger_send_ledger") as batch:
        batch.add_column(sa.Column("unconfirmed_message", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messenger_send_ledger") as batch:
        batch.drop_column("unconfirmed_message")

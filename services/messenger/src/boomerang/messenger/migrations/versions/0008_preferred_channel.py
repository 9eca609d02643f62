"""The channel a customer prefers (trait `preferred_channel` of CustomerIdentified).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messenger_contacts") as batch:
        batch.add_column(sa.Column("preferred_channel", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messenger_contacts") as batch:
        batch.drop_column("preferred_channel")

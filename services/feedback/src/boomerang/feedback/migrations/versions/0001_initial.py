"""The provider event store (the outbox), unique on each provider's event id.

Exactly what `SQLModel.metadata.create_all` built before feedback had migrations, so databases made
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
        "feedback_provider_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_event_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "provider_event_id", name="uq_feedback_provider_event"),
    )
    op.create_index("ix_feedback_provider_events_published_at", "feedback_provider_events", ["published_at"])


def downgrade() -> None:
    op.drop_index("ix_feedback_provider_events_published_at", table_name="feedback_provider_events")
    op.drop_table("feedback_provider_events")

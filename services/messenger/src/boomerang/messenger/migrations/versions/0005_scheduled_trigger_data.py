"""The trigger event of a scheduled step, kept with its ledger entry.

A time-after-event flow (feedback request, checkout abandonment) writes its step when the event
arrives and renders it days or hours later: the order's or checkout's lines and links come from
the event, so the scheduler needs it. `trigger_data` holds the event's envelope as JSON; it is
NULL for everything else.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messenger_send_ledger") as batch:
        batch.add_column(sa.Column("trigger_data", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messenger_send_ledger") as batch:
        batch.drop_column("trigger_data")

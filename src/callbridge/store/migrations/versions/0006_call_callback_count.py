"""Calls: callback_count, how many status callbacks the call has queued.  The next one's
``SequenceNumber`` (Twilio's: the callbacks of one call numbered from 0 in the order they
were queued); it is bumped in the transaction that writes the callback's delivery row, so
the numbering survives a restart.  Calls from before count their delivery rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "calls",
        sa.Column("callback_count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.execute(
        "UPDATE calls SET callback_count ="
        " (SELECT count(*) FROM deliveries WHERE deliveries.call_sid = calls.sid)"
    )


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("callback_count")

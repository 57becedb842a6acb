"""queue_member_statistics.last_answered_at: when the member last answered a call of the
queue (written with each answer), so ``leastrecent`` orders the members the same on every
node and after a restart.  Rows from before have none (as if the member never answered).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "queue_member_statistics",
        sa.Column("last_answered_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("queue_member_statistics") as batch:
        batch.drop_column("last_answered_at")

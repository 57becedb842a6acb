"""Queue statistics: what became of each queue's callers, and each member's answered
calls, durable and shared by the nodes on one database.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queue_statistics",
        sa.Column("queue_id", sa.String(64), primary_key=True),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("abandoned", sa.Integer(), nullable=False),
        sa.Column("overflowed", sa.Integer(), nullable=False),
        sa.Column("left_queue", sa.Integer(), nullable=False),
        sa.Column("wait_seconds", sa.Float(), nullable=False),
        sa.Column("waited_answers", sa.Integer(), nullable=False),
    )
    op.create_table(
        "queue_member_statistics",
        sa.Column("queue_id", sa.String(64), primary_key=True),
        sa.Column("extension", sa.String(64), primary_key=True),
        sa.Column("answered", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("queue_member_statistics")
    op.drop_table("queue_statistics")

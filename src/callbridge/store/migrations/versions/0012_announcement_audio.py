"""Uploaded announcements' audio in the database (8 kHz mono 16-bit PCM), so every node
sharing it can play an upload any node took (each keeps a local copy as a cache).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "announcement_audio",
        sa.Column(
            "announcement_id",
            sa.String(64),
            sa.ForeignKey("announcements.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("pcm", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("announcement_audio")

"""Voicemail messages' audio in the database (the WAV file as recorded), so every node
sharing it serves and mails a message any node took (each keeps a local copy as a cache).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "voicemail_audio",
        sa.Column(
            "voicemail_id",
            _ID,
            sa.ForeignKey("voicemails.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("wav", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("voicemail_audio")

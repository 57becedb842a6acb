"""Voicemail: the messages left in mailboxes, and the queue of the mails owed for them.

Revision ID: 0010
Revises: 0009 (written on 0006; chained after 0007 and 0009 on merge)
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "voicemails",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("mailbox", sa.String(64), nullable=False),
        sa.Column("caller", sa.String(255), nullable=False),
        sa.Column("number", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_voicemails_mailbox", "voicemails", ["mailbox", "id"])
    op.create_table(
        "voicemail_mails",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column(
            "voicemail_id",
            _ID,
            sa.ForeignKey("voicemails.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("as_attachment", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("given_up_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_voicemail_mails_sent_at", "voicemail_mails", ["sent_at", "id"])


def downgrade() -> None:
    op.drop_table("voicemail_mails")
    op.drop_table("voicemails")

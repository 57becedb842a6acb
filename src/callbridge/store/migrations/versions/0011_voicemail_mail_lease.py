"""Voicemail mails: a lease (claimed_by, lease_until), so the nodes sharing one database
each send a mail once; a dead node's lease runs out and another node takes the mail over.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("voicemail_mails", sa.Column("claimed_by", sa.String(64), nullable=True))
    op.add_column(
        "voicemail_mails", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("voicemail_mails") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")

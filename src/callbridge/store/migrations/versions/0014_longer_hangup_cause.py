"""calls.hangup_cause holds up to 1024 characters: an application error's detail (the URL and
what was wrong with its document) is the cause, and 64 cut the useful part off.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite: the batch copies the table (with foreign keys off, Database.migrate).
    with op.batch_alter_table("calls") as batch:
        batch.alter_column("hangup_cause", type_=sa.String(1024), existing_type=sa.String(64))


def downgrade() -> None:
    op.execute("UPDATE calls SET hangup_cause = substr(hangup_cause, 1, 64)")
    with op.batch_alter_table("calls") as batch:
        batch.alter_column("hangup_cause", type_=sa.String(64), existing_type=sa.String(1024))

"""Calls: external_id, seed-002's id of an originated call in the client's own application,
searchable (``GET /api/v2/calls?external_id=``).

Revision ID: 0009
Revises: 0007 (written on 0006; chained after 0007 on merge)
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("external_id", sa.String(256), nullable=True))
    op.create_index("ix_calls_external_id", "calls", ["external_id"])


def downgrade() -> None:
    op.drop_index("ix_calls_external_id", table_name="calls")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("external_id")

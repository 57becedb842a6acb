"""calls.call_id: seed-004's call_id (SHA-256 of the sid, hex), indexed, so the call API finds
the call a notify or call-control post is about (``GET /api/v2/calls?call_id=``); the calls
stored before get theirs computed here.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    op.add_column("calls", sa.Column("call_id", sa.String(64), nullable=True))
    calls = sa.table("calls", sa.column("sid", sa.String(64)), sa.column("call_id", sa.String(64)))
    connection = op.get_bind()
    while True:
        sids = (
            connection.execute(sa.select(calls.c.sid).where(calls.c.call_id.is_(None)).limit(BATCH))
            .scalars()
            .all()
        )
        if not sids:
            break
        connection.execute(
            calls.update().where(calls.c.sid == sa.bindparam("old_sid")),
            [{"old_sid": sid, "call_id": hashlib.sha256(sid.encode()).hexdigest()} for sid in sids],
        )
    op.create_index("ix_calls_call_id", "calls", ["call_id"])


def downgrade() -> None:
    op.drop_index("ix_calls_call_id", table_name="calls")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("call_id")

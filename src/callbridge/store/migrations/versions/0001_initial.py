"""Initial schema: api_keys, calls, call_events, deliveries (outbox), recordings.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _create_api_keys() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("signing_secret", sa.String(200), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("calls_per_second", sa.Float(), nullable=True),
        sa.Column("max_concurrent", sa.Integer(), nullable=True),
        _ts("created_at"),
    )


def _create_calls() -> None:
    op.create_table(
        "calls",
        sa.Column("sid", sa.String(64), primary_key=True),
        sa.Column("api_key_id", sa.String(40), sa.ForeignKey("api_keys.id"), nullable=True),
        sa.Column("parent_sid", sa.String(64), nullable=True),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("from", sa.String(200), nullable=False),
        sa.Column("to", sa.String(200), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("status_callback", sa.Text(), nullable=True),
        sa.Column("status_callback_method", sa.String(8), nullable=False),
        sa.Column("status_callback_events", sa.JSON(), nullable=False),
        sa.Column("secret_key", sa.String(200), nullable=True),
        sa.Column("optional", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("answered_at", nullable=True),
        _ts("ended_at", nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("hangup_cause", sa.String(64), nullable=True),
        sa.Column("hangup_by", sa.String(16), nullable=True),
        sa.Column("sip_code", sa.Integer(), nullable=True),
        sa.Column("recording_url", sa.Text(), nullable=True),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("last_event_seq", sa.Integer(), nullable=False),
    )
    op.create_index("ix_calls_created_at_sid", "calls", ["created_at", "sid"])
    op.create_index("ix_calls_api_key_created_at", "calls", ["api_key_id", "created_at"])
    op.create_index("ix_calls_node_ended_at", "calls", ["node", "ended_at"])
    op.create_index("ix_calls_parent_sid", "calls", ["parent_sid"])


def _create_call_events() -> None:
    op.create_table(
        "call_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("call_sid", sa.String(64), sa.ForeignKey("calls.sid"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        _ts("at"),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.UniqueConstraint("call_sid", "seq", name="uq_call_events_call_sid_seq"),
    )


def _create_deliveries() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("call_sid", sa.String(64), sa.ForeignKey("calls.sid"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        _ts("delivered_at", nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        _ts("lease_until", nullable=True),
        sa.UniqueConstraint("call_sid", "seq", name="uq_deliveries_call_sid_seq"),
    )
    op.create_index(
        "ix_deliveries_status_next_attempt_at", "deliveries", ["status", "next_attempt_at"]
    )
    op.create_index("ix_deliveries_claimed_by", "deliveries", ["claimed_by"])


def _create_recordings() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("call_sid", sa.String(64), sa.ForeignKey("calls.sid"), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        _ts("created_at"),
    )
    op.create_index("ix_recordings_call_sid", "recordings", ["call_sid"])


def upgrade() -> None:
    _create_api_keys()
    _create_calls()
    _create_call_events()
    _create_deliveries()
    _create_recordings()


def downgrade() -> None:
    op.drop_table("recordings")
    op.drop_table("deliveries")
    op.drop_table("call_events")
    op.drop_table("calls")
    op.drop_table("api_keys")

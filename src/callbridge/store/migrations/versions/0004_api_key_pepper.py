"""API keys: stored as HMAC-SHA256(pepper, SHA-256(key)) instead of SHA-256(key); the
pepper is a random server secret in the new ``server_secrets`` table.

Every row's stored SHA-256 is re-hashed in place (the inner SHA-256 is what was stored), so
every key, configured or created, keeps working without being seen again.  Not undone:
a keyed hash cannot be turned back into the plain one.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PEPPER = "api_key_pepper"


def upgrade() -> None:
    secrets_table = op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    pepper = secrets.token_hex(32)
    op.bulk_insert(secrets_table, [{"name": PEPPER, "value": pepper}])
    connection = op.get_bind()
    keys = sa.table("api_keys", sa.column("id", sa.String), sa.column("key_hash", sa.String))
    for key_id, plain in connection.execute(sa.select(keys.c.id, keys.c.key_hash)).all():
        keyed = hmac.new(pepper.encode(), plain.encode(), hashlib.sha256).hexdigest()
        connection.execute(keys.update().where(keys.c.id == key_id).values(key_hash=keyed))


def downgrade() -> None:
    raise NotImplementedError("0004 cannot be undone: the keys' plain SHA-256 is not kept")

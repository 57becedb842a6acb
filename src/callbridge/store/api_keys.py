"""API keys: created or configured, found by the SHA-256 of the key (never the key)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection, Sequence

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callbridge.store.clock import Clock
from callbridge.store.database import Database
from callbridge.store.models import ApiKeyRow
from callbridge.store.records import ApiKeyRecord, CreatedApiKey
from callbridge.store.rows import api_key_record


class ApiKeyRepository:
    def __init__(self, *, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    async def create(
        self,
        *,
        name: str,
        scopes: Sequence[str] = (),
        calls_per_second: float | None = None,
        max_concurrent: int | None = None,
    ) -> CreatedApiKey:
        key = "cbk_" + secrets.token_urlsafe(32)
        row = ApiKeyRow(
            id="key_" + secrets.token_hex(8),
            name=name,
            key_hash=hash_key(key),
            signing_secret="whsec_" + secrets.token_urlsafe(32),
            scopes=list(scopes),
            calls_per_second=calls_per_second,
            max_concurrent=max_concurrent,
            created_at=self._clock.now(),
        )

        def work(connection: Connection) -> ApiKeyRecord:
            with Session(bind=connection) as session:
                session.add(row)
                session.flush()
                return api_key_record(row)

        return CreatedApiKey(record=await self._db.run(work), key=key)

    async def ensure(
        self,
        *,
        key: str,
        name: str,
        scopes: Sequence[str] = ("call",),
        calls_per_second: float | None = None,
        max_concurrent: int | None = None,
        signing_secret: str | None = None,
    ) -> ApiKeyRecord:
        """Create or update the configured ``key``, found by its hash: its id never changes,
        nor its signing secret unless one is given; a revoked key is restored.  Only the
        key's SHA-256 is stored."""
        digest = hash_key(key)

        def upsert(connection: Connection) -> ApiKeyRecord:
            with Session(bind=connection) as session:
                row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest))
                if row is None:
                    row = ApiKeyRow(
                        id="key_" + secrets.token_hex(8),
                        key_hash=digest,
                        signing_secret="whsec_" + secrets.token_urlsafe(32),
                        created_at=self._clock.now(),
                    )
                    session.add(row)
                row.name = name
                row.scopes = list(scopes)
                row.calls_per_second = calls_per_second
                row.max_concurrent = max_concurrent
                if signing_secret is not None:
                    row.signing_secret = signing_secret
                row.revoked_at = None
                session.flush()
                return api_key_record(row)

        try:
            return await self._db.run(upsert)
        except IntegrityError:  # another process inserted the same key meanwhile: update it
            return await self._db.run(upsert)

    async def find_by_key(self, key: str) -> ApiKeyRecord | None:
        digest = hash_key(key)

        def work(connection: Connection) -> ApiKeyRecord | None:
            with Session(bind=connection) as session:
                row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest))
                if row is None or not hmac.compare_digest(row.key_hash, digest):
                    return None
                if row.revoked_at is not None:
                    return None
                return api_key_record(row)

        return await self._db.run(work)

    async def revoke_all_except(self, kept: Collection[str]) -> tuple[str, ...]:
        """Revoke every key whose id is not in ``kept`` (the configured ones): they no
        longer authenticate.  The names of the keys revoked now."""
        query = (
            update(ApiKeyRow)
            .where(ApiKeyRow.id.not_in(list(kept)), ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=self._clock.now())
            .returning(ApiKeyRow.name)
        )

        def work(connection: Connection) -> tuple[str, ...]:
            return tuple(sorted(connection.execute(query).scalars()))

        return await self._db.run(work)

    async def get(self, key_id: str) -> ApiKeyRecord | None:

        def work(connection: Connection) -> ApiKeyRecord | None:
            with Session(bind=connection) as session:
                row = session.get(ApiKeyRow, key_id)
                return None if row is None else api_key_record(row)

        return await self._db.run(work)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()

"""API keys: created or configured, found by the SHA-256 of the key (never the key)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

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
        async with self._db.session() as session, session.begin():
            session.add(row)
        return CreatedApiKey(record=api_key_record(row), key=key)

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
        nor its signing secret unless one is given.  Only the key's SHA-256 is stored."""
        digest = hash_key(key)

        async def upsert() -> ApiKeyRecord:
            async with self._db.session() as session, session.begin():
                row = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest))
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
            return api_key_record(row)

        try:
            return await upsert()
        except IntegrityError:  # another process inserted the same key meanwhile: update it
            return await upsert()

    async def find_by_key(self, key: str) -> ApiKeyRecord | None:
        digest = hash_key(key)
        async with self._db.session() as session:
            row = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest))
        if row is None or not hmac.compare_digest(row.key_hash, digest):
            return None
        return api_key_record(row)

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        async with self._db.session() as session:
            row = await session.get(ApiKeyRow, key_id)
        return None if row is None else api_key_record(row)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()

"""API keys: created or configured, found by a keyed hash of the key (never the key).

The stored digest is HMAC-SHA256(pepper, SHA-256(key)), hex: the pepper is a random
secret of the server in the ``server_secrets`` table (made by migration 0004, which also
re-hashed the plain SHA-256 digests stored before it).  A keyed hash keeps lookups O(1) (a
unique index on the digest); a slow hash would add nothing to generated keys (256 random
bits), and configured keys are at least 16 characters.  Someone who reads the
``api_keys`` table alone (an export, a log of its rows) cannot test guesses against it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Collection, Sequence

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callbridge.store.clock import Clock
from callbridge.store.database import Database
from callbridge.store.models import ApiKeyRow, ServerSecretRow
from callbridge.store.records import ApiKeyRecord, CreatedApiKey
from callbridge.store.rows import api_key_record

PEPPER = "api_key_pepper"


class ApiKeyRepository:
    def __init__(self, *, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock
        self._pepper: bytes | None = None

    async def _digest(self, key: str) -> str:
        if self._pepper is None:
            self._pepper = await self._db.run(_read_pepper)
        return keyed_hash(key, self._pepper)

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
            key_hash=await self._digest(key),
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
        on_generated_secret: Callable[[ApiKeyRecord], None] | None = None,
    ) -> ApiKeyRecord:
        """Create or update the configured ``key``, found by its hash: its id never changes,
        nor its signing secret unless one is given; a revoked key is restored.  Only the
        key's keyed hash is stored.  ``on_generated_secret`` is told of a key stored now
        with a signing secret made here (the one moment it is new)."""
        digest = await self._digest(key)
        generated: list[bool] = []

        def upsert(connection: Connection) -> ApiKeyRecord:
            generated.clear()
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
                    generated.append(signing_secret is None)
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
            record = await self._db.run(upsert)
        except IntegrityError:  # another process inserted the same key meanwhile: update it
            record = await self._db.run(upsert)
        if any(generated) and on_generated_secret is not None:
            on_generated_secret(record)
        return record

    async def find_by_key(self, key: str) -> ApiKeyRecord | None:
        digest = await self._digest(key)

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

    async def list_active(self) -> tuple[ApiKeyRecord, ...]:
        """Every key that authenticates, by name."""
        query = select(ApiKeyRow).where(ApiKeyRow.revoked_at.is_(None)).order_by(ApiKeyRow.name)

        def work(connection: Connection) -> tuple[ApiKeyRecord, ...]:
            with Session(bind=connection) as session:
                return tuple(api_key_record(row) for row in session.scalars(query))

        return await self._db.run(work)


def hash_key(key: str) -> str:
    """The plain SHA-256 of a key (what was stored before migration 0004; the inner hash
    of :func:`keyed_hash`)."""
    return hashlib.sha256(key.encode()).hexdigest()


def keyed_hash(key: str, pepper: bytes) -> str:
    """What is stored of ``key``: HMAC-SHA256(pepper, SHA-256(key)), hex."""
    return hmac.new(pepper, hash_key(key).encode(), hashlib.sha256).hexdigest()


def _read_pepper(connection: Connection) -> bytes:
    with Session(bind=connection) as session:
        row = session.get(ServerSecretRow, PEPPER)
        if row is None:
            raise RuntimeError("the database has no API key pepper: run its migrations")
        return row.value.encode()

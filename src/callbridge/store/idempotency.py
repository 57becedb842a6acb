"""``Idempotency-Key``: the first reply to a key's request, kept 24 hours, so a client that
retries a call-creating POST (a timeout, a lost connection) gets that reply again instead
of a second call.

A request claims its (API key, idempotency key) with a fingerprint of what it asks; the
claim is one row, inserted or found in one transaction (the primary key serialises two
requests that race).  Found, the row says what to answer: the stored reply (same
fingerprint, completed), "another request" (a different fingerprint), or "still running"
(claimed, not completed, and younger than :data:`ABANDONED_AFTER`; an older claim was left
by a process that died and is taken over)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callbridge.store.clock import Clock
from callbridge.store.database import Database
from callbridge.store.models import IdempotencyRow

KEPT_FOR = timedelta(hours=24)
ABANDONED_AFTER = timedelta(seconds=60)
MAX_KEY_CHARS = 255


@dataclass(frozen=True)
class StoredReply:
    status_code: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass(frozen=True)
class Claimed:
    """This request runs; complete or release the claim afterwards."""


@dataclass(frozen=True)
class Replay:
    """Answer what the first request was answered."""

    reply: StoredReply


@dataclass(frozen=True)
class KeyReused:
    """The key was used for a request that asked something else."""


@dataclass(frozen=True)
class StillRunning:
    """The first request with this key has not been answered yet."""


ClaimOutcome = Claimed | Replay | KeyReused | StillRunning


class IdempotencyStore:
    def __init__(self, *, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    async def claim(self, *, api_key_id: str, key: str, fingerprint: str) -> ClaimOutcome:
        now = self._clock.now()

        def work(connection: Connection) -> ClaimOutcome:
            with Session(bind=connection) as session:
                row = session.get(IdempotencyRow, (api_key_id, key))
                if row is not None and _expired(row, now):
                    session.delete(row)
                    session.flush()
                    row = None
                if row is None:
                    session.add(
                        IdempotencyRow(
                            api_key_id=api_key_id,
                            key=key,
                            fingerprint=fingerprint,
                            created_at=now,
                        )
                    )
                    session.commit()
                    return Claimed()
                if row.fingerprint != fingerprint:
                    return KeyReused()
                if row.status_code is None:
                    if now - row.created_at < ABANDONED_AFTER:
                        return StillRunning()
                    row.created_at = now  # left by a process that died: taken over
                    session.commit()
                    return Claimed()
                return Replay(
                    StoredReply(
                        status_code=row.status_code,
                        body=dict(row.body or {}),
                        headers=dict(row.headers or {}),
                    )
                )

        try:
            return await self._db.run(work)
        except IntegrityError:  # another request inserted the claim meanwhile
            return await self._db.run(work)

    async def complete(self, *, api_key_id: str, key: str, reply: StoredReply) -> None:
        def work(connection: Connection) -> None:
            with Session(bind=connection) as session:
                row = session.get(IdempotencyRow, (api_key_id, key))
                if row is not None:
                    row.status_code = reply.status_code
                    row.body = reply.body
                    row.headers = reply.headers
                    session.commit()

        await self._db.run(work)

    async def release(self, *, api_key_id: str, key: str) -> None:
        """Forget a claim whose request failed: a retry runs it again."""
        query = delete(IdempotencyRow).where(
            IdempotencyRow.api_key_id == api_key_id,
            IdempotencyRow.key == key,
            IdempotencyRow.status_code.is_(None),
        )

        def work(connection: Connection) -> None:
            connection.execute(query)

        await self._db.run(work)

    async def prune(self) -> int:
        """Delete the replies older than :data:`KEPT_FOR`; how many."""
        query = delete(IdempotencyRow).where(
            IdempotencyRow.created_at < self._clock.now() - KEPT_FOR
        )

        def work(connection: Connection) -> int:
            return connection.execute(query).rowcount

        return await self._db.run(work)

    async def stored_keys(self, api_key_id: str) -> list[str]:
        """The idempotency keys kept for ``api_key_id`` (tests, support)."""
        query = select(IdempotencyRow.key).where(IdempotencyRow.api_key_id == api_key_id)

        def work(connection: Connection) -> list[str]:
            return list(connection.execute(query).scalars())

        return await self._db.run(work)


def _expired(row: IdempotencyRow, now: datetime) -> bool:
    return now - row.created_at >= KEPT_FOR

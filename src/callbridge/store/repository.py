"""Repositories: calls with their events, outbox rows and recordings; API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.store.clock import Clock
from callbridge.store.database import Database
from callbridge.store.errors import CallNotFound, DuplicateCall, RecordingNotFound
from callbridge.store.models import (
    ApiKeyRow,
    CallEventRow,
    CallRow,
    DeliveryRow,
    DeliveryStatus,
    RecordingRow,
)
from callbridge.store.records import (
    ApiKeyRecord,
    Callback,
    CallDetail,
    CallEnding,
    CallFilters,
    CallPage,
    CallRecord,
    CreatedApiKey,
    Cursor,
    NewCall,
    NewEvent,
    RecordedEvent,
    RecordingRecord,
)
from callbridge.store.rows import (
    api_key_record,
    call_record,
    delivery_record,
    event_record,
    recording_record,
)

ANSWERED_STATUSES = frozenset({"answered", "in-progress"})
ORPHAN_STATUS = "completed"
MAX_PAGE = 1000


class OutboxListener(Protocol):
    """Told after a transaction that wrote a delivery row has committed."""

    def notify(self) -> None: ...


class CallRepository:
    def __init__(
        self, *, database: Database, clock: Clock, listener: OutboxListener | None = None
    ) -> None:
        self._db = database
        self._clock = clock
        self._listener = listener

    async def create_call(self, call: NewCall) -> CallRecord:
        row = _new_call_row(call, created_at=self._clock.now())
        try:
            async with self._db.session() as session, session.begin():
                session.add(row)
        except IntegrityError as exc:
            raise DuplicateCall(call.sid) from exc
        return call_record(row)

    async def update_status(
        self, sid: str, status: str, *, at: datetime, ending: CallEnding | None = None
    ) -> CallRecord:
        """Set ``status``; an answered status stamps ``answered_at``, an ``ending`` ends it."""
        async with self._db.session() as session, session.begin():
            row = await _call_row(session, sid)
            row.status = status
            if status in ANSWERED_STATUSES and row.answered_at is None:
                row.answered_at = at
            if ending is not None:
                _end(row, at=at, ending=ending)
        return call_record(row)

    async def set_recording_url(self, sid: str, url: str) -> None:
        async with self._db.session() as session, session.begin():
            row = await _call_row(session, sid)
            row.recording_url = url

    async def add_recording(
        self, call_sid: str, *, path: str, duration: float | None
    ) -> RecordingRecord:
        row = RecordingRow(
            call_sid=call_sid, path=path, duration=duration, created_at=self._clock.now()
        )
        async with self._db.session() as session, session.begin():
            await _call_row(session, call_sid)
            session.add(row)
        return recording_record(row)

    async def record_event_with_delivery(
        self,
        call_sid: str,
        event: NewEvent,
        params: Mapping[str, str],
        callback: Callback | None,
    ) -> RecordedEvent:
        """Append ``event`` (next seq of the call) and, with a ``callback``, its outbox row.

        Both rows commit in one transaction: an event is never recorded without the
        webhook it owes, nor a webhook queued for an event that was rolled back.
        """
        async with self._db.session() as session, session.begin():
            seq = await _next_seq(session, call_sid)
            session.add(
                CallEventRow(
                    call_sid=call_sid, seq=seq, name=event.name, at=event.at, data=dict(event.data)
                )
            )
            delivery = None
            if callback is not None:
                delivery = self._delivery_row(call_sid, seq, params, callback)
                session.add(delivery)
            await session.flush()
        if delivery is None:
            return RecordedEvent(seq=seq, delivery_id=None)
        if self._listener is not None:
            self._listener.notify()
        return RecordedEvent(seq=seq, delivery_id=delivery.id)

    def _delivery_row(
        self, call_sid: str, seq: int, params: Mapping[str, str], callback: Callback
    ) -> DeliveryRow:
        return DeliveryRow(
            call_sid=call_sid,
            seq=seq,
            url=callback.url,
            method=callback.method.upper(),
            params=dict(params),
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=self._clock.now(),
        )

    async def get_call(self, sid: str) -> CallDetail:
        async with self._db.session() as session:
            row = await _call_row(session, sid)
            events = await session.scalars(
                select(CallEventRow).where(CallEventRow.call_sid == sid).order_by(CallEventRow.seq)
            )
            deliveries = await session.scalars(
                select(DeliveryRow).where(DeliveryRow.call_sid == sid).order_by(DeliveryRow.seq)
            )
            recordings = await session.scalars(
                select(RecordingRow).where(RecordingRow.call_sid == sid).order_by(RecordingRow.id)
            )
            return CallDetail(
                call=call_record(row),
                events=tuple(event_record(e) for e in events),
                deliveries=tuple(delivery_record(d) for d in deliveries),
                recordings=tuple(recording_record(r) for r in recordings),
            )

    async def get_recording(self, recording_id: int) -> RecordingRecord:
        async with self._db.session() as session:
            row = await session.get(RecordingRow, recording_id)
        if row is None:
            raise RecordingNotFound(str(recording_id))
        return recording_record(row)

    async def list_calls(
        self, filters: CallFilters, *, limit: int = 50, after: Cursor | None = None
    ) -> CallPage:
        """Newest first; ``next_cursor`` is set when more calls may follow."""
        limit = max(1, min(limit, MAX_PAGE))
        query = select(CallRow).where(*_filter_clauses(filters))
        if after is not None:
            query = query.where(_after(after))
        query = query.order_by(CallRow.created_at.desc(), CallRow.sid.desc()).limit(limit + 1)
        async with self._db.session() as session:
            rows = list(await session.scalars(query))
        page = tuple(call_record(r) for r in rows[:limit])
        more = len(rows) > limit
        cursor = Cursor(created_at=page[-1].created_at, sid=page[-1].sid) if more else None
        return CallPage(calls=page, next_cursor=cursor)

    async def close_orphaned_calls(self, node: str, cause: str) -> tuple[CallRecord, ...]:
        """End every call ``node`` left live (it crashed); returns them, now ended."""
        now = self._clock.now()
        ending = CallEnding(cause=cause, by="local")
        async with self._db.session() as session, session.begin():
            rows = list(
                await session.scalars(
                    select(CallRow).where(CallRow.node == node, CallRow.ended_at.is_(None))
                )
            )
            for row in rows:
                row.status = ORPHAN_STATUS
                _end(row, at=now, ending=ending)
        return tuple(call_record(r) for r in rows)


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


def _new_call_row(call: NewCall, *, created_at: datetime) -> CallRow:
    return CallRow(
        sid=call.sid,
        api_key_id=call.api_key_id,
        parent_sid=call.parent_sid,
        direction=call.direction,
        from_=call.from_,
        to=call.to,
        status=call.status,
        url=call.url,
        method=call.method.upper(),
        status_callback=call.status_callback,
        status_callback_method=call.status_callback_method.upper(),
        status_callback_events=list(call.status_callback_events),
        secret_key=call.secret_key,
        optional=call.optional,
        created_at=created_at,
        node=call.node,
        last_event_seq=0,
    )


async def _call_row(session: AsyncSession, sid: str) -> CallRow:
    row = await session.get(CallRow, sid)
    if row is None:
        raise CallNotFound(sid)
    return row


async def _next_seq(session: AsyncSession, call_sid: str) -> int:
    """Bump the call's event counter; the write lock it takes orders concurrent writers."""
    bumped = await session.execute(
        update(CallRow)
        .where(CallRow.sid == call_sid)
        .values(last_event_seq=CallRow.last_event_seq + 1)
        .returning(CallRow.last_event_seq)
        .execution_options(synchronize_session=False)
    )
    seq = bumped.scalar_one_or_none()
    if seq is None:
        raise CallNotFound(call_sid)
    return seq


def _end(row: CallRow, *, at: datetime, ending: CallEnding) -> None:
    row.ended_at = at
    answered = row.answered_at
    row.duration = 0 if answered is None else max(0, round((at - answered).total_seconds()))
    row.hangup_cause = ending.cause
    row.hangup_by = ending.by
    row.sip_code = ending.sip_code


def _filter_clauses(filters: CallFilters) -> list[ColumnElement[bool]]:
    equal = {
        CallRow.api_key_id: filters.api_key_id,
        CallRow.status: filters.status,
        CallRow.direction: filters.direction,
        CallRow.parent_sid: filters.parent_sid,
        CallRow.from_: filters.from_,
        CallRow.to: filters.to,
    }
    clauses = [column == value for column, value in equal.items() if value is not None]
    if filters.created_after is not None:
        clauses.append(CallRow.created_at >= filters.created_after)
    if filters.created_before is not None:
        clauses.append(CallRow.created_at < filters.created_before)
    return clauses


def _after(cursor: Cursor) -> ColumnElement[bool]:
    return or_(
        CallRow.created_at < cursor.created_at,
        and_(CallRow.created_at == cursor.created_at, CallRow.sid < cursor.sid),
    )

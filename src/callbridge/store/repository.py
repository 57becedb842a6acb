"""Calls with their events, outbox rows and recordings (API keys: :mod:`.api_keys`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callbridge.store.api_keys import ApiKeyRepository as ApiKeyRepository
from callbridge.store.api_keys import hash_key as hash_key
from callbridge.store.call_ids import call_id_of
from callbridge.store.call_statements import (
    ANSWERED_AT,
    BUMP_EVENT_SEQ,
    INSERT_CALL,
    by_sid,
    ending_params,
    status_update,
)
from callbridge.store.clock import Clock
from callbridge.store.database import Database
from callbridge.store.errors import CallNotFound, DuplicateCall, RecordingNotFound
from callbridge.store.event_log import EventLog, OutboxListener, Written
from callbridge.store.models import CallEventRow, CallRow, DeliveryRow, RecordingRow
from callbridge.store.prepared import PreparedStatement
from callbridge.store.records import (
    Callback,
    CallDetail,
    CallEnding,
    CallFilters,
    CallPage,
    CallRecord,
    Cursor,
    EventFor,
    EventWrite,
    NewCall,
    NewEvent,
    OrphanedCall,
    RecordedEvent,
    RecordingRecord,
)
from callbridge.store.rows import (
    call_record,
    call_record_of_columns,
    delivery_record,
    event_record,
    recording_record,
)
from callbridge.vocabulary import CallStatus

ORPHAN_STATUS = CallStatus.COMPLETED
MAX_PAGE = 1000


class CallRepository:
    """Each change (a call, a status with its event and webhook) is one transaction of Core
    statements, run by the database (:meth:`Database.run`)."""

    def __init__(
        self, *, database: Database, clock: Clock, listener: OutboxListener | None = None
    ) -> None:
        self._db = database
        self._clock = clock
        self._events = EventLog(clock=clock, listener=listener)

    async def create_call(self, call: NewCall, *, then: EventFor | None = None) -> CallRecord:
        """Store a new call; with ``then``, its first event (and webhook) in the same
        transaction."""
        record = _new_call_record(call, created_at=self._clock.now())
        claim = self._events.claim()

        def work(connection: Connection) -> Written | None:
            try:
                INSERT_CALL.execute(
                    connection, _call_values(record, last_event_seq=int(bool(then)))
                )
            except IntegrityError as exc:
                raise DuplicateCall(call.sid) from exc
            if then is None:
                return None
            return self._events.append(connection, record, 1, then(record), claim)

        self._events.announce(await self._db.run(work))
        return record

    async def update_status(
        self,
        sid: str,
        status: CallStatus,
        *,
        at: datetime,
        ending: CallEnding | None = None,
        sip_dialog: Mapping[str, Any] | None = None,
        then: EventFor | None = None,
    ) -> CallRecord:
        """Set ``status``; an answered status stamps ``answered_at``, an ``ending`` ends it
        (and forgets its SIP dialog); a ``sip_dialog`` is stored with the change.

        With ``then``, the event it builds from the changed call (and its webhook) is
        appended in the same transaction."""
        answers = status == CallStatus.IN_PROGRESS
        statement = status_update(
            answers=answers,
            counts_event=then is not None,
            ends=bool(ending),
            sets_dialog=sip_dialog is not None and not ending,
        )
        params: dict[str, Any] = {"b_sid": sid, "b_status": CallStatus(status).value, "b_at": at}
        if sip_dialog is not None:
            params["b_sip_dialog"] = dict(sip_dialog)
        claim = self._events.claim() if then is not None else None

        def work(connection: Connection) -> tuple[CallRecord, Written | None]:
            if ending is not None:
                found = ANSWERED_AT.execute(connection, {"b_sid": sid}).one_or_none()
                if found is None:
                    raise CallNotFound(sid)
                (answered,) = found
                if answered is None and answers:
                    answered = at
                params.update(ending_params(at=at, answered_at=answered, ending=ending))
            row = _returned(statement, connection, params, sid)
            record = call_record_of_columns(row)
            if then is None:
                return record, None
            written = self._events.append(
                connection, record, row["last_event_seq"], then(record), claim
            )
            return record, written

        record, written = await self._db.run(work)
        self._events.announce(written)
        return record

    async def set_recording_url(self, sid: str, url: str) -> None:
        def work(connection: Connection) -> None:
            if connection.execute(by_sid({"recording_url": url}), {"b_sid": sid}).first() is None:
                raise CallNotFound(sid)

        await self._db.run(work)

    async def add_recording(
        self, call_sid: str, *, path: str, duration: float | None
    ) -> RecordingRecord:
        row = RecordingRow(
            call_sid=call_sid, path=path, duration=duration, created_at=self._clock.now()
        )

        def work(connection: Connection) -> RecordingRecord:
            with Session(bind=connection, expire_on_commit=False) as session:
                _call_row(session, call_sid)
                session.add(row)
                session.flush()
                return recording_record(row)

        return await self._db.run(work)

    async def record_event_with_delivery(
        self,
        call_sid: str,
        event: NewEvent,
        params: Mapping[str, str],
        callback: Callback | None,
        *,
        sequence_param: str | None = None,
    ) -> RecordedEvent:
        """Append ``event`` (next seq of the call) and, with a ``callback``, its outbox row
        (numbered among the call's webhooks under ``sequence_param``, if given).

        Both rows commit in one transaction: an event is never recorded without the
        webhook it owes, nor a webhook queued for an event that was rolled back.
        """
        write = EventWrite(
            event=event, params=params, callback=callback, sequence_param=sequence_param
        )
        claim = self._events.claim() if callback is not None else None

        def work(connection: Connection) -> Written:
            row = _returned(BUMP_EVENT_SEQ, connection, {"b_sid": call_sid}, call_sid)
            record = call_record_of_columns(row)
            return self._events.append(connection, record, row["last_event_seq"], write, claim)

        written = await self._db.run(work)
        self._events.announce(written)
        return RecordedEvent(seq=written.seq, delivery_id=written.delivery_id)

    async def get_call(self, sid: str) -> CallDetail:
        def work(connection: Connection) -> CallDetail:
            with Session(bind=connection) as session:
                row = _call_row(session, sid)
                events = session.scalars(
                    select(CallEventRow)
                    .where(CallEventRow.call_sid == sid)
                    .order_by(CallEventRow.seq)
                )
                deliveries = session.scalars(
                    select(DeliveryRow).where(DeliveryRow.call_sid == sid).order_by(DeliveryRow.seq)
                )
                recordings = session.scalars(
                    select(RecordingRow)
                    .where(RecordingRow.call_sid == sid)
                    .order_by(RecordingRow.id)
                )
                return CallDetail(
                    call=call_record(row),
                    events=tuple(event_record(e) for e in events),
                    deliveries=tuple(delivery_record(d) for d in deliveries),
                    recordings=tuple(recording_record(r) for r in recordings),
                )

        return await self._db.run(work)

    async def get_recording(self, recording_id: int) -> RecordingRecord:
        def work(connection: Connection) -> RecordingRecord | None:
            with Session(bind=connection) as session:
                row = session.get(RecordingRow, recording_id)
                return None if row is None else recording_record(row)

        found = await self._db.run(work)
        if found is None:
            raise RecordingNotFound(str(recording_id))
        return found

    async def list_calls(
        self, filters: CallFilters, *, limit: int = 50, after: Cursor | None = None
    ) -> CallPage:
        """Newest first; ``next_cursor`` is set when more calls may follow."""
        limit = max(1, min(limit, MAX_PAGE))
        query = select(CallRow).where(*_filter_clauses(filters))
        if after is not None:
            query = query.where(_after(after))
        query = query.order_by(CallRow.created_at.desc(), CallRow.sid.desc()).limit(limit + 1)

        def work(connection: Connection) -> list[CallRecord]:
            with Session(bind=connection) as session:
                return [call_record(r) for r in session.scalars(query)]

        records = await self._db.run(work)
        page = tuple(records[:limit])
        more = len(records) > limit
        cursor = Cursor(created_at=page[-1].created_at, sid=page[-1].sid) if more else None
        return CallPage(calls=page, next_cursor=cursor)

    async def close_orphaned_calls(self, node: str, cause: str) -> tuple[OrphanedCall, ...]:
        """End every call ``node`` left live (it crashed); returns them, now ended, with the
        SIP dialog each had stored."""
        now = self._clock.now()
        ending = CallEnding(cause=cause, by="local")

        def work(connection: Connection) -> tuple[OrphanedCall, ...]:
            with Session(bind=connection) as session:
                rows = list(
                    session.scalars(
                        select(CallRow).where(CallRow.node == node, CallRow.ended_at.is_(None))
                    )
                )
                dialogs = [row.sip_dialog for row in rows]
                for row in rows:
                    row.status = ORPHAN_STATUS.value
                    _end(row, at=now, ending=ending)
                session.flush()
                return tuple(
                    OrphanedCall(call=call_record(row), sip_dialog=dialog)
                    for row, dialog in zip(rows, dialogs, strict=True)
                )

        return await self._db.run(work)


def _new_call_record(call: NewCall, *, created_at: datetime) -> CallRecord:
    return CallRecord(
        sid=call.sid,
        api_key_id=call.api_key_id,
        parent_sid=call.parent_sid,
        direction=call.direction,
        from_=call.from_,
        to=call.to,
        status=CallStatus(call.status),
        url=call.url,
        method=call.method.upper(),
        status_callback=call.status_callback,
        status_callback_method=call.status_callback_method.upper(),
        status_callback_events=tuple(call.status_callback_events),
        secret_key=call.secret_key,
        optional=call.optional,
        created_at=created_at,
        answered_at=None,
        ended_at=None,
        duration=None,
        hangup_cause=None,
        hangup_by=None,
        sip_code=None,
        recording_url=None,
        node=call.node,
        external_id=call.external_id,
    )


def _call_values(call: CallRecord, *, last_event_seq: int) -> dict[str, Any]:
    """The ``calls`` row of a new call, by column name."""
    return {
        "sid": call.sid,
        "api_key_id": call.api_key_id,
        "parent_sid": call.parent_sid,
        "direction": call.direction,
        "from": call.from_,
        "to": call.to,
        "status": call.status.value,
        "url": call.url,
        "method": call.method,
        "status_callback": call.status_callback,
        "status_callback_method": call.status_callback_method,
        "status_callback_events": list(call.status_callback_events),
        "secret_key": call.secret_key,
        "optional": call.optional,
        "created_at": call.created_at,
        "node": call.node,
        "external_id": call.external_id,
        "call_id": call_id_of(call.sid),
        "last_event_seq": last_event_seq,
        "callback_count": 0,
    }


def _returned(
    update: PreparedStatement, connection: Connection, params: Mapping[str, Any], sid: str
) -> dict[str, Any]:
    """The call's row as the ``UPDATE ... RETURNING *`` left it, by column name."""
    row = update.execute(connection, params).one_or_none()
    if row is None:
        raise CallNotFound(sid)
    return dict(zip(update.columns, row, strict=True))


def _call_row(session: Session, sid: str) -> CallRow:
    row = session.get(CallRow, sid)
    if row is None:
        raise CallNotFound(sid)
    return row


def _end(row: CallRow, *, at: datetime, ending: CallEnding) -> None:
    values = ending_params(at=at, answered_at=row.answered_at, ending=ending)
    row.ended_at = at
    row.duration = values["b_duration"]
    row.hangup_cause = values["b_hangup_cause"]
    row.hangup_by = ending.by
    row.sip_code = ending.sip_code
    row.sip_dialog = None


def _filter_clauses(filters: CallFilters) -> list[ColumnElement[bool]]:
    equal = {
        CallRow.api_key_id: filters.api_key_id,
        CallRow.status: filters.status,
        CallRow.direction: filters.direction,
        CallRow.parent_sid: filters.parent_sid,
        CallRow.from_: filters.from_,
        CallRow.to: filters.to,
        CallRow.external_id: filters.external_id,
        CallRow.call_id: filters.call_id,
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

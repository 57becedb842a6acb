"""ORM row → frozen record conversion (the only place that reads row attributes out)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import inspect

from callbridge.store.models import ApiKeyRow, CallEventRow, CallRow, DeliveryRow, RecordingRow
from callbridge.store.records import (
    ApiKeyRecord,
    CallEventRecord,
    CallRecord,
    DeliveryRecord,
    RecordingRecord,
)
from callbridge.vocabulary import CallStatus

# (attribute, column name) of every mapped column of ``calls``: the ORM spells ``from``
# ``from_``.
_CALL_COLUMNS = tuple((attr.key, attr.columns[0].name) for attr in inspect(CallRow).column_attrs)


def call_record(row: CallRow) -> CallRecord:
    """A call from its ORM row."""
    return call_record_of_columns({name: getattr(row, key) for key, name in _CALL_COLUMNS})


def call_record_of_columns(columns: Mapping[Any, Any]) -> CallRecord:
    """A call from a Core result row's mapping (the ``calls`` table's column names)."""
    return CallRecord(
        sid=columns["sid"],
        api_key_id=columns["api_key_id"],
        parent_sid=columns["parent_sid"],
        direction=columns["direction"],
        from_=columns["from"],
        to=columns["to"],
        status=CallStatus(columns["status"]),
        url=columns["url"],
        method=columns["method"],
        status_callback=columns["status_callback"],
        status_callback_method=columns["status_callback_method"],
        status_callback_events=tuple(columns["status_callback_events"]),
        secret_key=columns["secret_key"],
        optional=columns["optional"],
        created_at=columns["created_at"],
        answered_at=columns["answered_at"],
        ended_at=columns["ended_at"],
        duration=columns["duration"],
        hangup_cause=columns["hangup_cause"],
        hangup_by=columns["hangup_by"],
        sip_code=columns["sip_code"],
        recording_url=columns["recording_url"],
        node=columns["node"],
        external_id=columns.get("external_id"),
    )


def event_record(row: CallEventRow) -> CallEventRecord:
    return CallEventRecord(
        call_sid=row.call_sid, seq=row.seq, name=row.name, at=row.at, data=dict(row.data)
    )


def delivery_record(row: DeliveryRow) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id,
        call_sid=row.call_sid,
        seq=row.seq,
        url=row.url,
        method=row.method,
        params=dict(row.params),
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        last_status_code=row.last_status_code,
        delivered_at=row.delivered_at,
    )


def recording_record(row: RecordingRow) -> RecordingRecord:
    return RecordingRecord(
        id=row.id,
        call_sid=row.call_sid,
        path=row.path,
        duration=row.duration,
        created_at=row.created_at,
    )


def api_key_record(row: ApiKeyRow) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        name=row.name,
        signing_secret=row.signing_secret,
        scopes=tuple(row.scopes),
        calls_per_second=row.calls_per_second,
        max_concurrent=row.max_concurrent,
        created_at=row.created_at,
    )

"""Stored calls as the outbound call API's JSON (the response of every ``/api/v2/calls``
request).

Names follow the seed where it names the value: ``CallSid`` and ``ParentCallSid`` as in its
status callbacks, ``from``, ``to``, ``url``, ``Method``, ``statusCallback``,
``statusCallbackMethod``, ``statusCallbackEvent`` and ``optional`` as in its request; the
rest is camelCase.  ``secretKey`` is never shown, nor the parameters of webhook deliveries
(they carry it).  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from callbridge.store.call_ids import call_id_of
from callbridge.store.records import (
    CallDetail,
    CallEventRecord,
    CallFilters,
    CallPage,
    CallRecord,
    DeliveryRecord,
    RecordingRecord,
)

API_PREFIX = "/api/v2"

JsonObject = dict[str, Any]


def call_link(sid: str) -> str:
    return f"{API_PREFIX}/calls/{sid}"


def recording_link(recording_id: int) -> str:
    return f"{API_PREFIX}/recordings/{recording_id}.wav"


def call_json(call: CallRecord) -> JsonObject:
    """One call: what ``POST /api/v2/calls`` answers and each item of a call list."""
    return {
        "CallSid": call.sid,
        "callId": call_id_of(call.sid),  # seed-004's call_id (notify and call control)
        "ParentCallSid": call.parent_sid,
        "status": str(call.status),
        "direction": call.direction,
        "from": call.from_,
        "to": call.to,
        "url": call.url,
        "Method": call.method,
        "statusCallback": call.status_callback,
        "statusCallbackMethod": call.status_callback_method,
        "statusCallbackEvent": list(call.status_callback_events),
        "optional": call.optional,
        "createdAt": _time(call.created_at),
        "answeredAt": _time(call.answered_at),
        "endedAt": _time(call.ended_at),
        "duration": call.duration,
        "hangupCause": call.hangup_cause,
        "hangupBy": call.hangup_by,
        "sipCode": call.sip_code,
        "recordingUrl": call.recording_url,
        "link": call_link(call.sid),
        **({"externalId": call.external_id} if call.external_id is not None else {}),
    }


def call_detail_json(detail: CallDetail, *, children: Iterable[CallRecord] = ()) -> JsonObject:
    """One call with its legs (the calls it dialled), recordings, events and webhooks."""
    return {
        **call_json(detail.call),
        "children": [call_json(child) for child in children],
        "recordings": [_recording(r) for r in detail.recordings],
        "events": [_event(e) for e in detail.events],
        "webhooks": [_delivery(d) for d in detail.deliveries],
    }


def call_page_json(page: CallPage, *, filters: CallFilters, limit: int) -> JsonObject:
    """A page of calls, newest first; ``next`` is the link to the following page."""
    next_cursor = page.next_cursor.encode() if page.next_cursor is not None else None
    return {
        "calls": [call_json(call) for call in page.calls],
        "nextCursor": next_cursor,
        "next": None if next_cursor is None else _next_link(filters, limit, next_cursor),
    }


def _next_link(filters: CallFilters, limit: int, cursor: str) -> str:
    query: Mapping[str, str | None] = {
        "status": filters.status,
        "direction": filters.direction,
        "from": filters.from_,
        "to": filters.to,
        "parent": filters.parent_sid,
        "external_id": filters.external_id,
        "call_id": filters.call_id,
        "limit": str(limit),
        "cursor": cursor,
    }
    given = {name: value for name, value in query.items() if value is not None}
    return f"{API_PREFIX}/calls?{urlencode(given)}"


def _recording(recording: RecordingRecord) -> JsonObject:
    return {
        "id": recording.id,
        "duration": recording.duration,
        "createdAt": _time(recording.created_at),
        "link": recording_link(recording.id),
    }


def _event(event: CallEventRecord) -> JsonObject:
    return {"seq": event.seq, "name": event.name, "at": _time(event.at), "data": dict(event.data)}


def _delivery(delivery: DeliveryRecord) -> JsonObject:
    return {
        "id": delivery.id,
        "seq": delivery.seq,
        "event": delivery.params.get("CallStatus"),
        "url": delivery.url,
        "method": delivery.method,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "nextAttemptAt": _time(delivery.next_attempt_at),
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error,
        "deliveredAt": _time(delivery.delivered_at),
    }


def _time(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()

"""Stored calls as the API's JSON."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from callbridge.dialects.call_resource import call_json, call_page_json
from callbridge.store.records import CallFilters, CallPage, CallRecord, Cursor

AT = datetime(2025, 1, 1, tzinfo=UTC)


def record(**changes: object) -> CallRecord:
    values: dict[str, object] = {
        "sid": "CA1",
        "api_key_id": "key_1",
        "parent_sid": None,
        "direction": "outbound",
        "from_": "1001",
        "to": "19499300360",
        "status": "queued",
        "url": "https://app.example.com/a.xml",
        "method": "POST",
        "status_callback": "https://app.example.com/events",
        "status_callback_method": "GET",
        "status_callback_events": ("initiated", "completed"),
        "secret_key": "secret",
        "optional": "token=1",
        "created_at": AT,
        "answered_at": None,
        "ended_at": None,
        "duration": None,
        "hangup_cause": None,
        "hangup_by": None,
        "sip_code": None,
        "recording_url": None,
        "node": "n",
    }
    values.update(changes)
    return CallRecord(**values)  # type: ignore[arg-type]


def test_call_json_uses_the_seeds_names_and_hides_the_secret_key() -> None:
    assert call_json(record()) == {
        "CallSid": "CA1",
        "callId": hashlib.sha256(b"CA1").hexdigest(),  # seed-004's call_id
        "ParentCallSid": None,
        "status": "queued",
        "direction": "outbound",
        "from": "1001",
        "to": "19499300360",
        "url": "https://app.example.com/a.xml",
        "Method": "POST",
        "statusCallback": "https://app.example.com/events",
        "statusCallbackMethod": "GET",
        "statusCallbackEvent": ["initiated", "completed"],
        "optional": "token=1",
        "createdAt": "2025-01-01T00:00:00+00:00",
        "answeredAt": None,
        "endedAt": None,
        "duration": None,
        "hangupCause": None,
        "hangupBy": None,
        "sipCode": None,
        "recordingUrl": None,
        "link": "/api/v2/calls/CA1",
    }


def test_page_links_keep_the_filters() -> None:
    cursor = Cursor(created_at=AT, sid="CA1")
    page = CallPage(calls=(record(),), next_cursor=cursor)
    body = call_page_json(
        page, filters=CallFilters(api_key_id="key_1", from_="+1555", to="sip:a@b"), limit=1
    )
    assert body["nextCursor"] == cursor.encode()
    assert body["next"] == (
        f"/api/v2/calls?from=%2B1555&to=sip%3Aa%40b&limit=1&cursor={cursor.encode()}"
    )
    last = call_page_json(CallPage(calls=(), next_cursor=None), filters=CallFilters(), limit=5)
    assert last == {"calls": [], "nextCursor": None, "next": None}

"""Stored calls and recordings as Twilio's REST API renders them (API version 2010-04-01):
the Call resource, the list envelope with Twilio's paging fields, and the Recording
resources of a call.

Times are RFC 2822 in UTC; ``duration`` is a string of whole seconds once the call ended;
``direction`` is ``outbound-api`` for a call placed through an API, ``outbound-dial`` for
a ``<Dial>`` leg and ``inbound``; what Callbridge does not have (``price``,
``answered_by``, ``group_sid``, ...) is ``null`` as at Twilio.  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from callbridge.store.records import CallPage, CallRecord, RecordingRecord
from callbridge.webhooks.twilio_signature import TWILIO_API_VERSION

API_ROOT = f"/{TWILIO_API_VERSION}"
JsonObject = dict[str, Any]
# What older records may hold, as Twilio's status of a call.
_STATUSES = {"initiated": "queued", "answered": "in-progress"}


def rfc2822(moment: datetime | None) -> str | None:
    """``Mon, 16 Aug 2010 03:45:01 +0000``."""
    return None if moment is None else format_datetime(moment.astimezone(UTC))


def account_uri(account_sid: str) -> str:
    return f"{API_ROOT}/Accounts/{account_sid}"


def call_uri(account_sid: str, call_sid: str) -> str:
    return f"{account_uri(account_sid)}/Calls/{call_sid}.json"


def calls_uri(account_sid: str) -> str:
    return f"{account_uri(account_sid)}/Calls.json"


def twilio_status(call: CallRecord) -> str:
    return _STATUSES.get(call.status, call.status)


def twilio_direction(call: CallRecord) -> str:
    if call.direction == "inbound":
        return "inbound"
    return "outbound-dial" if call.parent_sid else "outbound-api"


def recording_sid(recording_id: int) -> str:
    return f"RE{recording_id:032x}"


def call_resource(call: CallRecord, *, account_sid: str) -> JsonObject:
    """One Call resource (what create, fetch and update answer, and each list item)."""
    ended = call.ended_at is not None
    updated = max(t for t in (call.created_at, call.answered_at, call.ended_at) if t is not None)
    return {
        "sid": call.sid,
        "account_sid": account_sid,
        "parent_call_sid": call.parent_sid,
        "to": call.to,
        "to_formatted": call.to,
        "from": call.from_,
        "from_formatted": call.from_,
        "status": twilio_status(call),
        "direction": twilio_direction(call),
        "date_created": rfc2822(call.created_at),
        "date_updated": rfc2822(updated),
        "start_time": rfc2822(call.created_at),
        "end_time": rfc2822(call.ended_at),
        "duration": str(call.duration or 0) if ended else None,
        "price": None,
        "price_unit": "USD",
        "answered_by": None,
        "api_version": TWILIO_API_VERSION,
        "caller_name": None,
        "forwarded_from": None,
        "group_sid": None,
        "phone_number_sid": None,
        "queue_time": "0",
        "trunk_sid": None,
        "annotation": None,
        "uri": call_uri(account_sid, call.sid),
        "subresource_uris": {
            "recordings": f"{account_uri(account_sid)}/Calls/{call.sid}/Recordings.json",
        },
    }


def call_list(
    page: CallPage,
    *,
    account_sid: str,
    query: Iterable[tuple[str, str]],
    page_number: int,
    page_size: int,
    page_token: str | None,
) -> JsonObject:
    """A page of calls in Twilio's envelope.  ``query`` is the request's filters (kept in
    every link); the next page is reached by its ``PageToken`` (a cursor: pages are stable
    while calls are added), so ``previous_page_uri`` is given only back to the first page."""
    base = calls_uri(account_sid)
    filters = [(name, value) for name, value in query if name not in _PAGING]

    def link(number: int, token: str | None) -> str:
        paging = [("PageSize", str(page_size)), ("Page", str(number))]
        if token is not None:
            paging.append(("PageToken", token))
        return f"{base}?{urlencode([*filters, *paging])}"

    calls = [call_resource(call, account_sid=account_sid) for call in page.calls]
    start = page_number * page_size
    next_uri = None
    if page.next_cursor is not None:
        next_uri = link(page_number + 1, page.next_cursor.encode())
    return {
        "calls": calls,
        "page": page_number,
        "page_size": page_size,
        "start": start,
        "end": start + max(len(calls) - 1, 0),
        "uri": link(page_number, page_token),
        "first_page_uri": link(0, None),
        "next_page_uri": next_uri,
        "previous_page_uri": link(0, None) if page_number == 1 else None,
    }


_PAGING = frozenset({"PageSize", "Page", "PageToken"})


def recording_resource(
    recording: RecordingRecord, *, account_sid: str, media_url: str
) -> JsonObject:
    sid = recording_sid(recording.id)
    duration = None if recording.duration is None else str(round(recording.duration))
    return {
        "sid": sid,
        "account_sid": account_sid,
        "call_sid": recording.call_sid,
        "conference_sid": None,
        "api_version": TWILIO_API_VERSION,
        "date_created": rfc2822(recording.created_at),
        "date_updated": rfc2822(recording.created_at),
        "start_time": rfc2822(recording.created_at),
        "duration": duration,
        "channels": 1,
        "source": "OutboundAPI",
        "status": "completed",
        "track": "both",
        "price": None,
        "price_unit": "USD",
        "error_code": None,
        "encryption_details": None,
        "media_url": media_url,
        "uri": f"{account_uri(account_sid)}/Calls/{recording.call_sid}/Recordings/{sid}.json",
    }


def recording_list(
    recordings: Iterable[JsonObject], *, account_sid: str, call_sid: str
) -> JsonObject:
    """All of a call's recordings, as one page."""
    items = list(recordings)
    uri = f"{account_uri(account_sid)}/Calls/{call_sid}/Recordings.json"
    return {
        "recordings": items,
        "page": 0,
        "page_size": max(len(items), 50),
        "start": 0,
        "end": max(len(items) - 1, 0),
        "uri": uri,
        "first_page_uri": f"{uri}?PageSize=50&Page=0",
        "next_page_uri": None,
        "previous_page_uri": None,
    }

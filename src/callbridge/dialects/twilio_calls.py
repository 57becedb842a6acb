"""The Twilio-compatible Calls API's form fields read into call-service values.

``POST .../Calls.json`` takes ``To``, ``From`` (or ``CallerId``, the caller ID shown),
``Url`` and ``Method`` or ``Twiml`` (inline TwiML, at most 4000 characters as at Twilio,
read by the same parser as fetched documents), ``StatusCallback``,
``StatusCallbackMethod``, ``StatusCallbackEvent`` (repeatable, or space-separated),
``Timeout``, ``Record`` and ``SendDigits``.  ``POST .../Calls/{CallSid}.json`` takes
``Status=completed|canceled``, ``Url`` and ``Method``, or ``Twiml``; ``GET .../Calls.json``
the filters ``To``, ``From``, ``Status``, ``ParentCallSid``, ``StartTime`` (``StartTime>``,
``StartTime<``) and the paging ``PageSize``, ``Page``, ``PageToken``.  Names are
case-insensitive; other Twilio parameters are ignored, as Twilio ignores unknown ones.  A
refusal is an :class:`InvalidRequest` naming each refused field, as Twilio names it (its
error code is chosen from the field by the API).  Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from callbridge.callflow.verbs import Program
from callbridge.calls.api_dialect import ApiDialect
from callbridge.calls.request import OutboundCallRequest, StatusCallback
from callbridge.dialects.errors import DialectError, InvalidRequest
from callbridge.dialects.fields import (
    FieldReader,
    Fields,
    check_address,
    check_bool,
    check_http_url,
    check_int,
    check_length,
    check_method,
)
from callbridge.dialects.outbound_call import (
    MAX_RING_TIMEOUT,
    MIN_RING_TIMEOUT,
    parse_events,
)
from callbridge.dialects.voicexml import parse_voice_xml
from callbridge.store.errors import InvalidCursor
from callbridge.store.records import CallFilters, Cursor
from callbridge.webhooks.params import CallbackEvent

MAX_TWIML_CHARS = 4000  # Twilio's limit of the Twiml parameter
DEFAULT_TIMEOUT = 60
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_SEND_DIGITS = 32
SEND_DIGITS = re.compile(r"[0-9*#wW]+")
STATUSES = frozenset(
    {"queued", "ringing", "in-progress", "canceled", "completed", "failed", "busy", "no-answer"}
)
HANG_UP_STATUSES = frozenset({"completed", "canceled"})
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")


@dataclass(frozen=True, kw_only=True)
class HangUp:
    """``Status=completed`` (or ``canceled``)."""


@dataclass(frozen=True, kw_only=True)
class Redirect:
    """``Url`` (and ``Method``): the call runs the document there instead."""

    url: str
    method: str = "POST"


@dataclass(frozen=True, kw_only=True)
class RunTwiml:
    """``Twiml``: the call runs this document instead."""

    program: Program


CallUpdate = HangUp | Redirect | RunTwiml


@dataclass(frozen=True, kw_only=True)
class CallListQuery:
    filters: CallFilters
    page: int
    page_size: int
    cursor: Cursor | None


def parse_create_call(
    fields: Fields, *, api_key_id: str, dialect: ApiDialect
) -> OutboundCallRequest:
    """The call a ``POST .../Calls.json`` asks for; raises ``InvalidRequest``."""
    reader = FieldReader(fields)
    to = reader.checked("To", check_address, required="is required: the number to call")
    from_ = reader.checked("From", check_address, required="is required: the caller ID")
    caller_id = reader.checked("CallerId", check_address)
    url = reader.checked("Url", check_http_url)
    method = reader.checked("Method", check_method) or "POST"
    program = reader.checked("Twiml", _check_twiml)
    if url is None and program is None and not reader.errors.keys() & {"Url", "Twiml"}:
        reader.fail("Url", "is required: give Url (or Twiml), the call's application")
    if reader.given("Url") and reader.given("Twiml"):
        reader.fail("Twiml", "give either Url or Twiml, not both")
    timeout = reader.checked("Timeout", check_int(1, int(MAX_RING_TIMEOUT)))
    record = reader.checked("Record", check_bool)
    send_digits = reader.checked("SendDigits", _check_send_digits)
    callback = _status_callback(reader)
    reader.raise_if_failed("the call request has invalid parameters")
    if to is None or from_ is None:  # pragma: no cover - a missing one failed above
        raise InvalidRequest("the call request has invalid parameters")
    ring = float(DEFAULT_TIMEOUT if timeout is None else timeout)
    return OutboundCallRequest(
        api_key_id=api_key_id,
        to=to,
        from_=caller_id or from_,
        url=url,
        method=method,
        program=program,
        send_digits=send_digits,
        status_callback=callback,
        ring_timeout=max(MIN_RING_TIMEOUT, ring),
        record=bool(record),
        dialect=dialect,
    )


def parse_update_call(fields: Fields) -> CallUpdate:
    """What a ``POST .../Calls/{CallSid}.json`` asks; raises ``InvalidRequest``."""
    reader = FieldReader(fields)
    status = reader.checked("Status", _check_hang_up_status)
    url = reader.checked("Url", check_http_url)
    method = reader.checked("Method", check_method) or "POST"
    program = reader.checked("Twiml", _check_twiml)
    given = [name for name in ("Status", "Url", "Twiml") if reader.given(name)]
    if len(given) > 1:
        reader.fail(given[1], f"give one of Status, Url and Twiml, not {' and '.join(given)}")
    reader.raise_if_failed("the call update has invalid parameters")
    if status is not None:
        return HangUp()
    if url is not None:
        return Redirect(url=url, method=method)
    if program is not None:
        return RunTwiml(program=program)
    raise InvalidRequest(
        "give Status=completed to hang up the call, or Url or Twiml to redirect it",
        fields={"Status": "give Status=completed, Url or Twiml"},
    )


def parse_list_query(fields: Fields, *, api_key_id: str) -> CallListQuery:
    """The filters and page of a ``GET .../Calls.json``; raises ``InvalidRequest``."""
    reader = FieldReader(fields)
    status = reader.checked("Status", _check_status)
    to = reader.checked("To", check_length(200))
    from_ = reader.checked("From", check_length(200))
    parent = reader.checked("ParentCallSid", check_length(64))
    on_day = reader.checked("StartTime", _check_day)
    after = reader.checked("StartTime>", _check_moment)
    before = reader.checked("StartTime<", _check_moment)
    page_size = reader.checked("PageSize", check_int(1, MAX_PAGE_SIZE)) or DEFAULT_PAGE_SIZE
    page = reader.checked("Page", check_int(0, 1_000_000)) or 0
    cursor = reader.checked("PageToken", _check_page_token)
    if page > 0 and cursor is None and not reader.errors:
        reader.fail("PageToken", "is required past page 0: follow next_page_uri")
    reader.raise_if_failed("the call query has invalid parameters")
    if on_day is not None:
        after = max(after or on_day, on_day)
        before = min(before or on_day + timedelta(days=1), on_day + timedelta(days=1))
    filters = CallFilters(
        api_key_id=api_key_id,
        status=status,
        parent_sid=parent,
        from_=from_,
        to=to,
        created_after=after,
        created_before=before,
    )
    return CallListQuery(filters=filters, page=page, page_size=page_size, cursor=cursor)


def _check_twiml(value: str) -> Program:
    if len(value) > MAX_TWIML_CHARS:
        raise ValueError(f"must be at most {MAX_TWIML_CHARS} characters")
    try:
        return parse_voice_xml(value.encode(), "")
    except DialectError as exc:
        raise ValueError(f"is not valid TwiML: {exc}") from exc


def _status_callback(reader: FieldReader) -> StatusCallback | None:
    url = reader.checked("StatusCallback", check_http_url)
    method = reader.checked("StatusCallbackMethod", check_method) or "POST"
    values = reader.all_values("StatusCallbackEvent")
    events: tuple[CallbackEvent, ...] = (CallbackEvent.COMPLETED,)
    if values:
        try:
            events = parse_events(values)
        except ValueError as exc:
            reader.fail("StatusCallbackEvent", str(exc))
    if url is None:
        return None
    return StatusCallback(url=url, method=method, events=events)


def _check_send_digits(value: str) -> str:
    if len(value) > MAX_SEND_DIGITS or not SEND_DIGITS.fullmatch(value):
        raise ValueError(f"must be up to {MAX_SEND_DIGITS} of 0-9, *, # and w (a wait)")
    return value


def _check_status(value: str) -> str:
    status = value.lower()
    if status not in STATUSES:
        raise ValueError(f"must be one of: {', '.join(sorted(STATUSES))}")
    return status


def _check_hang_up_status(value: str) -> str:
    status = value.lower()
    if status not in HANG_UP_STATUSES:
        raise ValueError("must be completed or canceled")
    return status


def _check_day(value: str) -> datetime:
    if not _DAY.fullmatch(value):
        raise ValueError("must be a day, YYYY-MM-DD")
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError("must be a day, YYYY-MM-DD") from exc


def _check_moment(value: str) -> datetime:
    """A day (its start) or an ISO 8601 time with its offset (as the SDK sends them)."""
    if _DAY.fullmatch(value):
        return _check_day(value)
    if not _MOMENT.fullmatch(value):
        raise ValueError("must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError as exc:
        raise ValueError("must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ") from exc


def _check_page_token(value: str) -> Cursor:
    try:
        return Cursor.decode(value)
    except InvalidCursor as exc:
        raise ValueError("is not a PageToken this API returned") from exc

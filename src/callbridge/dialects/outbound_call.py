"""The outbound call API's fields (seed-001) read into call-service values.

``POST /api/v2/calls`` takes ``from``, ``to``, ``url``, ``Method``, ``sendDigits``,
``statusCallback``, ``statusCallbackEvent``, ``statusCallbackMethod``, ``secretKey`` and
``optional`` (the seed's names), plus ``timeout``, ``record`` and ``callerName``.  Names are
case-insensitive; blank values count as absent; unknown names, and options that have no
effect as given, are accepted with a warning (:mod:`callbridge.dialects.accepted`).
``POST /api/v2/calls/{sid}`` takes ``Status=completed`` (hang up) or ``Url`` and
``Method`` (redirect), and ``GET /api/v2/calls`` its filters and paging.  Every refused
field is named in one :class:`InvalidRequest`.  Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from callbridge.calls.request import OutboundCallRequest, StatusCallback
from callbridge.dialects.accepted import Accepted, accepted, warn_unknown
from callbridge.dialects.errors import InvalidRequest
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
from callbridge.dialects.status_callback import CallbackFieldNames, read_status_callback
from callbridge.store.errors import InvalidCursor
from callbridge.store.records import CallFilters, Cursor
from callbridge.vocabulary import CallbackEvent, CallStatus

DEFAULT_RING_TIMEOUT = 60.0
MIN_RING_TIMEOUT = 5.0
MAX_RING_TIMEOUT = 600.0
MAX_SEND_DIGITS = 128
MAX_CALLER_NAME = 64
DEFAULT_PAGE = 50
MAX_PAGE = 1000

SEND_DIGITS = re.compile(r"[0-9*#wW]+")
_SECONDS = re.compile(r"[0-9]{1,4}(?:\.[0-9]{1,3})?")
_EVENT_SEPARATORS = re.compile(r"[\s,]+")
_CALL_ID = re.compile(r"[0-9a-f]{64}")
_CALLER_NAME_REFUSED = frozenset('"\\<>')
_EVENTS_ORDER = tuple(CallbackEvent)

HANG_UP_STATUSES = frozenset({CallStatus.COMPLETED, CallStatus.CANCELED})
# What ``GET /api/v2/calls?status=`` accepts: a call status, or an event name (a call is
# never stored in ``initiated`` or ``answered``: those match nothing).
CALL_STATUSES = frozenset(CallStatus) | frozenset(CallbackEvent)
DIRECTIONS = frozenset({"inbound", "outbound"})
_EVENT_ALIASES = ("statusCallbackEvents",)
# Every name POST /api/v2/calls reads (lower case), the API key's field included.
KNOWN_FIELDS = frozenset(
    {
        "to",
        "from",
        "url",
        "method",
        "senddigits",
        "timeout",
        "record",
        "callername",
        "statuscallback",
        "statuscallbackevent",
        "statuscallbackevents",
        "statuscallbackmethod",
        "secretkey",
        "optional",
        "apikey",
    }
)


@dataclass(frozen=True, kw_only=True)
class HangUpCall:
    """``Status=completed`` (or ``canceled``): end the call."""


@dataclass(frozen=True, kw_only=True)
class RedirectCall:
    """``Url`` (and ``Method``): run the document there instead of the current program."""

    url: str
    method: str = "POST"


CallUpdate = HangUpCall | RedirectCall


@dataclass(frozen=True, kw_only=True)
class CallQuery:
    filters: CallFilters
    cursor: Cursor | None
    limit: int


def parse_outbound_call(fields: Fields, *, api_key_id: str | None) -> Accepted[OutboundCallRequest]:
    """The call a ``POST /api/v2/calls`` asks for, with its warnings; raises
    ``InvalidRequest``."""
    reader = FieldReader(fields)
    to = reader.checked("to", check_address, required="is required: the number to dial")
    url = reader.checked("url", check_http_url)
    from_ = reader.checked("from", check_address, required=_from_required(reader))
    method = reader.checked("Method", check_method) or "POST"
    send_digits = reader.checked("sendDigits", check_send_digits)
    timeout = reader.checked("timeout", check_ring_timeout)
    record = reader.checked("record", check_bool)
    caller_name = reader.checked("callerName", check_caller_name)
    callback = _status_callback(reader)
    reader.raise_if_failed("the call request has invalid fields")
    if to is None or from_ is None:  # pragma: no cover - a missing one failed above
        raise InvalidRequest("the call request has invalid fields")
    warn_unknown(reader.warnings, reader.names(), KNOWN_FIELDS)
    request = OutboundCallRequest(
        api_key_id=api_key_id,
        to=to,
        from_=from_,
        caller_name=caller_name,
        url=url,
        method=method,
        send_digits=send_digits,
        status_callback=callback,
        ring_timeout=DEFAULT_RING_TIMEOUT if timeout is None else timeout,
        record=bool(record),
    )
    return accepted(request, reader.warnings)


def parse_call_update(fields: Fields) -> CallUpdate:
    """What a ``POST /api/v2/calls/{sid}`` asks: hang up or redirect; raises
    ``InvalidRequest``."""
    reader = FieldReader(fields)
    status = reader.checked("Status", _check_hang_up_status)
    url = reader.checked("Url", check_http_url)
    method = reader.checked("Method", check_method)
    if status is not None and url is not None:
        reader.fail("Status", "give either Status (hang up) or Url (redirect), not both")
    if method is not None and url is None and not reader.given("Url"):
        reader.fail("Method", "is the method of Url; give Url too")
    reader.raise_if_failed("the call update has invalid fields")
    if url is not None:
        return RedirectCall(url=url, method=method or "POST")
    if status is not None:
        return HangUpCall()
    raise InvalidRequest(
        "give Status=completed to hang up the call, or Url (and Method) to redirect it",
        fields={"Status": "give Status=completed or Url", "Url": "give Status=completed or Url"},
    )


def parse_call_query(fields: Fields, *, api_key_id: str | None) -> CallQuery:
    """The filters and page of a ``GET /api/v2/calls``; raises ``InvalidRequest``."""
    reader = FieldReader(fields)
    status = reader.checked("status", _check_choice(CALL_STATUSES))
    direction = reader.checked("direction", _check_choice(DIRECTIONS))
    from_ = reader.checked("from", check_length(200))
    to = reader.checked("to", check_length(200))
    parent = reader.checked("parent", check_length(64), "ParentCallSid")
    external_id = reader.checked("external_id", check_length(256))
    call_id = reader.checked("call_id", _check_call_id, "callId")
    limit = reader.checked("limit", check_int(1, MAX_PAGE))
    cursor = reader.checked("cursor", _check_cursor)
    reader.raise_if_failed("the call query has invalid fields")
    filters = CallFilters(
        api_key_id=api_key_id,
        status=status,
        direction=direction,
        parent_sid=parent,
        from_=from_,
        to=to,
        external_id=external_id,
        call_id=call_id,
    )
    return CallQuery(filters=filters, cursor=cursor, limit=limit or DEFAULT_PAGE)


def parse_events(values: tuple[str, ...]) -> tuple[CallbackEvent, ...]:
    """``("initiated ringing", "answered,completed")`` → the events, in lifecycle order."""
    names = [n.lower() for value in values for n in _EVENT_SEPARATORS.split(value) if n]
    allowed = ", ".join(e.value for e in _EVENTS_ORDER)
    unknown = sorted({n for n in names if n not in {e.value for e in _EVENTS_ORDER}})
    if unknown:
        shown = ", ".join(name[:32] for name in unknown[:5])
        raise ValueError(f"unknown event(s) {shown}; allowed: {allowed}")
    if not names:
        raise ValueError(f"give one or more of: {allowed}")
    return tuple(e for e in _EVENTS_ORDER if e.value in names)


def _from_required(reader: FieldReader) -> str:
    if reader.given("url"):
        return "is required: the caller ID of the call"
    return (
        "is required: the caller ID of the call, and without url the number the call is "
        "connected to once to answers (click to call)"
    )


_CALLBACK_FIELDS = CallbackFieldNames(
    url="statusCallback",
    events="statusCallbackEvent",
    method="statusCallbackMethod",
    secret_key="secretKey",
    optional="optional",
)


def _status_callback(reader: FieldReader) -> StatusCallback | None:
    return read_status_callback(
        reader,
        _CALLBACK_FIELDS,
        events=_events(reader),
        events_given=reader.given("statusCallbackEvent", *_EVENT_ALIASES),
    )


def _events(reader: FieldReader) -> tuple[CallbackEvent, ...] | None:
    values = reader.all_values("statusCallbackEvent", *_EVENT_ALIASES)
    if not values:
        return None
    try:
        return parse_events(values)
    except ValueError as exc:
        reader.fail("statusCallbackEvent", str(exc))
        return None


def check_send_digits(value: str) -> str:
    if len(value) > MAX_SEND_DIGITS or not SEND_DIGITS.fullmatch(value):
        raise ValueError(
            f"must be up to {MAX_SEND_DIGITS} of 0-9, * and #, with w (wait 0.5 s) and W (wait 1 s)"
        )
    return value


def check_ring_timeout(value: str) -> float:
    seconds = float(value) if _SECONDS.fullmatch(value) else -1.0
    if not MIN_RING_TIMEOUT <= seconds <= MAX_RING_TIMEOUT:
        raise ValueError(
            f"must be the seconds to ring, from {MIN_RING_TIMEOUT:g} to {MAX_RING_TIMEOUT:g}"
        )
    return seconds


def check_caller_name(value: str) -> str:
    if len(value) > MAX_CALLER_NAME or _CALLER_NAME_REFUSED.intersection(value):
        raise ValueError(f'must be at most {MAX_CALLER_NAME} characters, without " \\ < >')
    return value


def _check_hang_up_status(value: str) -> str:
    status = value.lower()
    if status not in HANG_UP_STATUSES:
        raise ValueError("must be completed (hang up the call) or canceled")
    return status


def _check_choice(choices: frozenset[str]) -> Callable[[str], str]:
    def check(value: str) -> str:
        lowered = value.lower()
        if lowered not in choices:
            raise ValueError(f"must be one of: {', '.join(sorted(choices))}")
        return lowered

    return check


def _check_call_id(value: str) -> str:
    """seed-004's ``call_id`` as the notify posts carry it (``callId`` in a call)."""
    lowered = value.strip().lower()
    if not _CALL_ID.fullmatch(lowered):
        raise ValueError("must be a call_id of the notify posts: 64 hexadecimal characters")
    return lowered


def _check_cursor(value: str) -> Cursor:
    try:
        return Cursor.decode(value)
    except InvalidCursor as exc:
        raise ValueError("is not a cursor this API returned") from exc

"""The two-leg callback API's JSON (seed-000) read into a :class:`CallbackRequest`.

``POST /voice/call/callback`` takes a JSON object::

    {"leg_A": {"to": "1000123", "from": "1000125"},
     "leg_B": {"to": "1000125", "from": "1000123"},
     "mode": "sequential", "first": "A", "failure_announce": "Sorry. Goodbye."}

Each leg takes ``to`` and ``from`` (the caller ID that leg sees), ``caller_name``,
``trunk``, ``timeout`` (ring seconds), ``headers`` (an object of extra SIP headers:
``X-...`` and a few standard ones), ``announce`` (text, or ``{"text", "voice"}``, or
``{"url"}`` of a WAV file), ``voice`` (of a text ``announce``), ``url`` (a voice
application run on the leg once it answers, before the bridge; ``method`` GET or POST),
``senddigits`` (DTMF sent once it answers, ``w``/``W`` waits), ``record`` (``true``: what
the leg says is recorded from its answer) and the outbound API's status-callback fields
``status_callback``, ``status_callback_event``, ``status_callback_method``, ``secret_key``
and ``optional``.  ``mode`` is ``sequential``
(the default) or ``simultaneous``; ``first`` (``A`` or ``B``) is the leg a sequential
callback dials first.

Names are case-insensitive and ``_`` / ``-`` in them are ignored, so ``leg_A``, ``legA``
and ``statusCallback`` (the outbound API's spelling) are accepted too.  Unknown names are
accepted with a warning (``leg_B.colour``), as in every API; every refused field is named
in one :class:`InvalidRequest` (``leg_B.timeout``).
Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata

from callbridge.calls.request import (
    Announcement,
    CallbackMode,
    CallbackRequest,
    LegName,
    LegSpec,
    StatusCallback,
)
from callbridge.dialects.accepted import Accepted, accepted
from callbridge.dialects.errors import InvalidRequest
from callbridge.dialects.fields import (
    check_address,
    check_bool,
    check_http_url,
    check_length,
    check_method,
)
from callbridge.dialects.json_object import (
    JsonDocument,
    JsonPairs,
    ObjectReader,
    fold,
    read_json_object,
)
from callbridge.dialects.outbound_call import (
    DEFAULT_RING_TIMEOUT,
    check_caller_name,
    check_ring_timeout,
    check_send_digits,
    parse_events,
)
from callbridge.dialects.status_callback import CallbackFieldNames, read_status_callback
from callbridge.webhooks.params import CallbackEvent

MAX_ANNOUNCE_CHARS = 1000
MAX_HEADERS = 16
MAX_HEADER_VALUE = 512
VOICE = re.compile(r"[A-Za-z0-9_-]{1,32}(?:\+[A-Za-z0-9_-]{1,32})?")
TRUNK = re.compile(r"[A-Za-z0-9._-]{1,64}")
CUSTOM_HEADER = re.compile(r"X-[A-Za-z0-9][A-Za-z0-9-]{0,62}", re.IGNORECASE)
STANDARD_HEADERS = frozenset(
    h.lower()
    for h in (
        "User-to-User",
        "P-Asserted-Identity",
        "P-Preferred-Identity",
        "Privacy",
        "Diversion",
        "Call-Info",
        "Alert-Info",
        "Subject",
        "Priority",
        "Organization",
    )
)

# Accepted names (after folding: lower case, no ``_`` or ``-``) → the documented name.
_TOP = {
    "lega": "leg_A",
    "legb": "leg_B",
    "mode": "mode",
    "first": "first",
    "failureannounce": "failure_announce",
    "apikey": "apikey",
}
_LEG = {
    "to": "to",
    "from": "from",
    "callername": "caller_name",
    "calleridname": "caller_name",
    "trunk": "trunk",
    "outboundtrunk": "trunk",
    "timeout": "timeout",
    "headers": "headers",
    "announce": "announce",
    "voice": "voice",
    "statuscallback": "status_callback",
    "statuscallbackevent": "status_callback_event",
    "statuscallbackevents": "status_callback_event",
    "statuscallbackmethod": "status_callback_method",
    "secretkey": "secret_key",
    "optional": "optional",
    "url": "url",
    "method": "method",
    "senddigits": "send_digits",
    "record": "record",
}
_ANNOUNCE = {"text": "text", "voice": "voice", "url": "url"}


def read_callback_document(body: bytes) -> JsonDocument:
    """The JSON object of a callback request body; raises ``InvalidRequest``."""
    return read_json_object(body, expected='an object: {"leg_A": {...}, "leg_B": {...}}')


def parse_callback(document: JsonDocument, *, api_key_id: str | None) -> Accepted[CallbackRequest]:
    """The callback a ``POST /voice/call/callback`` asks for, with its warnings; raises
    ``InvalidRequest``."""
    reader = ObjectReader(document.pairs, names=_TOP)
    leg_a = _leg(reader, "leg_A")
    leg_b = _leg(reader, "leg_B")
    mode = reader.checked("mode", _check_mode) or CallbackMode.SEQUENTIAL
    first = reader.checked("first", _check_first)
    if first is not None and mode is not CallbackMode.SEQUENTIAL:
        reader.fail("first", "chooses the leg dialled first in sequential mode only")
    failure = _announcement(reader, "failure_announce", voice=None)
    reader.raise_if_failed("the callback request has invalid fields")
    if leg_a is None or leg_b is None:  # pragma: no cover - a missing leg failed above
        raise InvalidRequest("the callback request has invalid fields")
    request = CallbackRequest(
        api_key_id=api_key_id,
        leg_a=leg_a,
        leg_b=leg_b,
        mode=mode,
        first=first or LegName.A,
        failure_announce=failure,
    )
    return accepted(request, reader.warnings)


def _leg(top: ObjectReader, name: str) -> LegSpec | None:
    if top.raw(name) is None:
        top.fail(name, 'is required: the leg to call, e.g. {"to": "1000123", "from": "1000125"}')
        return None
    reader = top.nested(name, _LEG)
    if reader is None:
        return None
    to = reader.checked("to", check_address, required="is required: the number to dial")
    from_ = reader.checked(
        "from", check_address, required="is required: the caller ID this leg sees"
    )
    caller_name = reader.checked("caller_name", check_caller_name)
    trunk = reader.checked("trunk", _check_trunk)
    timeout = _timeout(reader)
    headers = _headers(reader)
    voice = reader.checked("voice", _check_voice)
    announce = _announcement(reader, "announce", voice=voice)
    if voice is not None and (announce is None or announce.text is None):
        reader.fail("voice", "is the voice of the announce text; give announce text too")
    callback = _status_callback(reader)
    url = reader.checked("url", check_http_url)
    method = reader.checked("method", check_method)
    if method is not None and url is None:
        reader.warn("method", "had no effect: it is the method of url, which was not given")
    send_digits = reader.checked("send_digits", check_send_digits)
    record = _record(reader)
    if to is None or from_ is None:
        return None
    return LegSpec(
        to=to,
        from_=from_,
        caller_name=caller_name,
        trunk=trunk,
        ring_timeout=DEFAULT_RING_TIMEOUT if timeout is None else timeout,
        headers=headers,
        announce=announce,
        status_callback=callback,
        url=url,
        method=method or "POST",
        send_digits=send_digits,
        record=record,
    )


def _record(reader: ObjectReader) -> bool:
    """``true``/``false``, as JSON or as a string."""
    value = reader.raw("record")
    if isinstance(value, bool):
        return value
    return bool(reader.checked("record", check_bool))


def _timeout(reader: ObjectReader) -> float | None:
    value = reader.raw("timeout")
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
        try:
            return check_ring_timeout(value)
        except ValueError as exc:
            reader.fail("timeout", str(exc))
            return None
    return reader.checked("timeout", check_ring_timeout)


def _headers(reader: ObjectReader) -> tuple[tuple[str, str], ...]:
    value = reader.raw("headers")
    if value is None:
        return ()
    if not isinstance(value, JsonPairs):
        reader.fail("headers", 'must be a JSON object, e.g. {"X-Campaign": "spring"}')
        return ()
    if len(value) > MAX_HEADERS:
        reader.fail("headers", f"at most {MAX_HEADERS} headers")
        return ()
    headers: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, header_value in value:
        label = f"headers.{name[:64]}"
        if not CUSTOM_HEADER.fullmatch(name) and name.lower() not in STANDARD_HEADERS:
            reader.fail(label, "only X-... headers and a few standard ones may be added")
        elif name.lower() in seen:
            reader.fail(label, "give it once")
        elif not isinstance(header_value, str) or not _header_value_ok(header_value):
            reader.fail(
                label,
                f"must be a string of at most {MAX_HEADER_VALUE} printable characters",
            )
        else:
            seen.add(name.lower())
            headers.append((name, header_value.strip()))
    return tuple(headers)


def _header_value_ok(value: str) -> bool:
    return len(value) <= MAX_HEADER_VALUE and all(unicodedata.category(c)[0] != "C" for c in value)


def _announcement(reader: ObjectReader, name: str, *, voice: str | None) -> Announcement | None:
    """``"text"``, ``{"text": ..., "voice": ...}`` or ``{"url": ...}``."""
    value = reader.raw(name)
    if value is None:
        return None
    if isinstance(value, str):
        text = reader.checked(name, check_length(MAX_ANNOUNCE_CHARS))
        return None if text is None else Announcement(text=text, voice=voice)
    nested = reader.nested(name, _ANNOUNCE)
    if nested is None:
        return None
    text = nested.checked("text", check_length(MAX_ANNOUNCE_CHARS))
    url = nested.checked("url", check_http_url)
    own_voice = nested.checked("voice", _check_voice)
    if nested.raw("text") is not None and nested.raw("url") is not None:
        nested.fail("url", "give either text (spoken) or url (played), not both")
        return None
    if nested.raw("text") is None and nested.raw("url") is None:
        reader.fail(name, 'give {"text": ..., "voice": ...} or {"url": ...}')
        return None
    if own_voice is not None and url is not None:
        nested.fail("voice", "is the voice of text; an audio url has none")
        return None
    if text is not None:
        return Announcement(text=text, voice=own_voice or voice)
    return None if url is None else Announcement(url=url)


_CALLBACK_FIELDS = CallbackFieldNames(
    url="status_callback",
    events="status_callback_event",
    method="status_callback_method",
    secret_key="secret_key",
    optional="optional",
)


def _status_callback(reader: ObjectReader) -> StatusCallback | None:
    return read_status_callback(
        reader,
        _CALLBACK_FIELDS,
        events=_events(reader),
        events_given=reader.given("status_callback_event"),
    )


def _events(reader: ObjectReader) -> tuple[CallbackEvent, ...] | None:
    value = reader.raw("status_callback_event")
    if value is None:
        return None
    items = value if isinstance(value, list) and not isinstance(value, JsonPairs) else [value]
    if not all(isinstance(item, str) for item in items):
        reader.fail("status_callback_event", "must be a string or a list of strings")
        return None
    try:
        return parse_events(tuple(items))
    except ValueError as exc:
        reader.fail("status_callback_event", str(exc))
        return None


def _check_mode(value: str) -> CallbackMode:
    try:
        return CallbackMode(value.lower())
    except ValueError:
        raise ValueError("must be sequential or simultaneous") from None


def _check_first(value: str) -> LegName:
    folded = fold(value).upper().removeprefix("LEG")
    try:
        return LegName(folded)
    except ValueError:
        raise ValueError("must be A or B (the leg dialled first)") from None


def _check_trunk(value: str) -> str:
    if not TRUNK.fullmatch(value):
        raise ValueError("must be a trunk name (letters, digits, ., _ and -)")
    return value


def _check_voice(value: str) -> str:
    if not VOICE.fullmatch(value):
        raise ValueError("must be a voice name such as en-us or en-us+f3")
    return value

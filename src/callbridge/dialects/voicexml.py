"""The voice-application XML dialect (TwiML naming) translated into call-flow programs.

Parsing goes through defusedxml only: DTDs, entity declarations and external references are
refused, and documents over 1 MiB are refused before parsing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from callbridge.callflow.errors import InvalidVerb
from callbridge.callflow.verbs import (
    Dial,
    DialGroup,
    DialTarget,
    Enqueue,
    Gather,
    Hangup,
    Leave,
    Pause,
    Play,
    Program,
    Prompt,
    Record,
    Redirect,
    Reject,
    Say,
    SendDigits,
    TargetKind,
    Verb,
    Voicemail,
)
from callbridge.calls.announcements.ids import ID_RULE, is_announcement_id
from callbridge.calls.announcements.ids import SCHEME as ANNOUNCEMENT_SCHEME
from callbridge.dialects.elements import (
    bool_attr,
    check_attributes,
    check_empty,
    check_no_stray_text,
    choice_attr,
    float_attr,
    int_attr,
    method_attr,
    optional_float_attr,
    optional_int_attr,
    require_text,
    resolve_url,
    string_attr,
    url_attr,
)
from callbridge.dialects.errors import InvalidDocument

MAX_DOCUMENT_BYTES = 1 << 20
DEFAULT_RING_TIMEOUT = 30.0

_TARGET_KINDS: dict[str, TargetKind] = {"Number": "number", "Sip": "sip", "User": "user"}
_NUMBER_SEPARATORS = re.compile(r"[\s().-]")
_RECORD_MODES = {
    "true": True,
    "false": False,
    "do-not-record": False,
    "record-from-answer": True,
    "record-from-ringing": True,
    "record-from-answer-dual": True,
    "record-from-ringing-dual": True,
}

_VerbParser = Callable[[Element, str], Verb]


def parse_voice_xml(document: bytes, base_url: str) -> Program:
    """Translate a ``<Response>`` document fetched from ``base_url``.

    Raises :class:`InvalidDocument` (a :class:`DialectError`) with a message saying why.
    """
    root = _parse(document)
    if root.tag != "Response":
        raise InvalidDocument(f"the root element must be <Response>, not <{root.tag}>")
    check_attributes(root, ())
    check_no_stray_text(root)
    verbs = tuple(_verb(child, base_url) for child in root)
    return Program(verbs=verbs, base_url=base_url)


def _parse(document: bytes) -> Element:
    if len(document) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(
            f"document of {len(document)} bytes exceeds the {MAX_DOCUMENT_BYTES} byte limit"
        )
    try:
        root: Element = fromstring(document, forbid_dtd=True)
    except DefusedXmlException as error:
        raise InvalidDocument(f"forbidden XML construct ({type(error).__name__})") from None
    except (ParseError, ValueError) as error:
        raise InvalidDocument(f"not well-formed XML: {error}") from None
    return root


def _verb(element: Element, base_url: str) -> Verb:
    parser = _VERBS.get(element.tag)
    if parser is None:
        raise InvalidDocument(f"unknown verb <{element.tag}>")
    try:
        return parser(element, base_url)
    except InvalidVerb as error:
        raise InvalidDocument(f"<{element.tag}>: {error}") from None


def _say(element: Element, base_url: str) -> Say:
    check_attributes(element, ("voice", "language", "loop"))
    return Say(
        text=require_text(element),
        voice=string_attr(element, "voice"),
        language=string_attr(element, "language"),
        loop=int_attr(element, "loop", 1),
    )


def _play(element: Element, base_url: str) -> Play:
    """An http(s) URL, or ``announcement:ID`` (an id of the media library)."""
    check_attributes(element, ("loop",))
    reference = require_text(element).strip()
    if reference.startswith(ANNOUNCEMENT_SCHEME):
        if not is_announcement_id(reference.removeprefix(ANNOUNCEMENT_SCHEME)):
            raise InvalidDocument(f"<Play>: {reference[:80]!r}: {ID_RULE}")
        return Play(url=reference, loop=int_attr(element, "loop", 1))
    url = resolve_url(element, reference, base_url)
    return Play(url=url, loop=int_attr(element, "loop", 1))


def _pause(element: Element, base_url: str) -> Pause:
    check_attributes(element, ("length",))
    check_empty(element)
    return Pause(length=float_attr(element, "length", 1.0))


def _send_digits(element: Element, base_url: str) -> SendDigits:
    check_attributes(element, ())
    return SendDigits(digits=require_text(element))


_PROMPTS: dict[str, Callable[[Element, str], Prompt]] = {
    "Say": _say,
    "Play": _play,
    "Pause": _pause,
}


def _gather(element: Element, base_url: str) -> Gather:
    check_attributes(element, ("numDigits", "timeout", "finishOnKey", "action", "method"))
    check_no_stray_text(element)
    return Gather(
        num_digits=optional_int_attr(element, "numDigits"),
        timeout=float_attr(element, "timeout", 5.0),
        finish_on_key=element.get("finishOnKey", "#").strip(),
        action=url_attr(element, "action", base_url),
        method=method_attr(element),
        prompts=tuple(_prompt(child, base_url) for child in element),
    )


def _prompt(element: Element, base_url: str) -> Prompt:
    parser = _PROMPTS.get(element.tag)
    if parser is None:
        raise InvalidDocument(f"<Gather> cannot contain <{element.tag}>")
    return parser(element, base_url)


def _dial(element: Element, base_url: str) -> Dial:
    allowed = ("callerId", "timeout", "timeLimit", "action", "method", "record")
    check_attributes(element, allowed)
    ring_timeout = float_attr(element, "timeout", DEFAULT_RING_TIMEOUT)
    return Dial(
        groups=_dial_groups(element, ring_timeout),
        caller_id=string_attr(element, "callerId"),
        time_limit=optional_float_attr(element, "timeLimit"),
        action=url_attr(element, "action", base_url),
        method=method_attr(element),
        record=choice_attr(element, "record", _RECORD_MODES, False),
    )


def _dial_groups(element: Element, ring_timeout: float) -> tuple[DialGroup, ...]:
    """Text content is one number; ``<Group>`` children ring in sequence; otherwise all the
    target children form one group."""
    text = (element.text or "").strip()
    if text and len(element):
        raise InvalidDocument("<Dial> takes a number as text or target elements, not both")
    if text:
        target = DialTarget(kind="number", address=_number(text))
        return (DialGroup(targets=(target,), ring_timeout=ring_timeout),)
    check_no_stray_text(element)
    grouped = [child.tag == "Group" for child in element]
    if any(grouped) and not all(grouped):
        raise InvalidDocument("<Dial> cannot mix <Group> with targets outside a group")
    if any(grouped):
        return tuple(_group(child, ring_timeout) for child in element)
    return (DialGroup(targets=_targets(element), ring_timeout=ring_timeout),)


def _group(element: Element, default_ring_timeout: float) -> DialGroup:
    check_attributes(element, ("timeout",))
    check_no_stray_text(element)
    ring_timeout = float_attr(element, "timeout", default_ring_timeout)
    return DialGroup(targets=_targets(element), ring_timeout=ring_timeout)


def _targets(element: Element) -> tuple[DialTarget, ...]:
    return tuple(_target(child) for child in element)


def _target(element: Element) -> DialTarget:
    kind = _TARGET_KINDS.get(element.tag)
    if kind is None:
        raise InvalidDocument(f"<Dial> cannot contain <{element.tag}>")
    check_attributes(element, ("sendDigits",))
    address = require_text(element)
    return DialTarget(
        kind=kind,
        address=_number(address) if kind == "number" else address,
        send_digits=string_attr(element, "sendDigits"),
    )


def _number(text: str) -> str:
    """A phone number without the separators people write ('+1 (949) 930-0360')."""
    return _NUMBER_SEPARATORS.sub("", text)


def _enqueue(element: Element, base_url: str) -> Enqueue:
    check_attributes(element, ("waitUrl", "waitUrlMethod", "action", "method"))
    return Enqueue(
        queue=require_text(element),
        wait_url=url_attr(element, "waitUrl", base_url),
        wait_method=method_attr(element, "waitUrlMethod"),
        action=url_attr(element, "action", base_url),
        method=method_attr(element),
    )


def _record(element: Element, base_url: str) -> Record:
    allowed = ("maxLength", "finishOnKey", "action", "method", "playBeep", "timeout")
    check_attributes(element, allowed)
    check_empty(element)
    return Record(
        max_length=float_attr(element, "maxLength", 3600.0),
        finish_on_key=element.get("finishOnKey", "1234567890*#").strip(),
        action=url_attr(element, "action", base_url),
        method=method_attr(element),
        play_beep=bool_attr(element, "playBeep", True),
        timeout=float_attr(element, "timeout", 5.0),
    )


def _redirect(element: Element, base_url: str) -> Redirect:
    check_attributes(element, ("method",))
    url = resolve_url(element, require_text(element), base_url)
    return Redirect(url=url, method=method_attr(element))


def _reject(element: Element, base_url: str) -> Reject:
    check_attributes(element, ("reason",))
    check_empty(element)
    return Reject(
        reason=choice_attr(element, "reason", {"rejected": "rejected", "busy": "busy"}, "rejected")
    )


def _hangup(element: Element, base_url: str) -> Hangup:
    check_attributes(element, ())
    check_empty(element)
    return Hangup()


def _leave(element: Element, base_url: str) -> Leave:
    check_attributes(element, ())
    check_empty(element)
    return Leave()


def _voicemail(element: Element, base_url: str) -> Voicemail:
    """``<Voicemail mailbox="sales" announcement="4" asAttachment="true"/>`` (Callbridge's)."""
    check_attributes(element, ("mailbox", "announcement", "asAttachment"))
    check_empty(element)
    attachment = string_attr(element, "asAttachment")
    return Voicemail(
        mailbox=string_attr(element, "mailbox"),
        announcement=string_attr(element, "announcement"),
        as_attachment=None if attachment is None else bool_attr(element, "asAttachment", False),
    )


_VERBS: dict[str, _VerbParser] = {
    "Say": _say,
    "Play": _play,
    "Pause": _pause,
    "SendDigits": _send_digits,
    "Gather": _gather,
    "Dial": _dial,
    "Enqueue": _enqueue,
    "Record": _record,
    "Redirect": _redirect,
    "Reject": _reject,
    "Hangup": _hangup,
    "Leave": _leave,
    "Voicemail": _voicemail,
}

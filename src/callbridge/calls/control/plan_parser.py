"""parse_plan: seed-004's XML answer to a plan (pure, synchronous).

Parsed with defusedxml only (no DTD, entity or external reference is accepted).  The root
is ``<Response>`` holding exactly one action; anything else (another element, text where
none belongs, a bad attribute, an empty body) is a :class:`PlanError`, which the caller
treats as a failed answer.
"""

from __future__ import annotations

import math
import re
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from callbridge.calls.control.plan import (
    DEFAULT_RINGTIME,
    Forward,
    ForwardTarget,
    Hangup,
    Plan,
    PlanError,
    Queue,
    Reject,
    RejectReason,
)

MAX_PLAN_BYTES = 64 * 1024
MAX_TARGETS = 20
MAX_NUMBERS = 20
MAX_RINGTIME = 600.0
_NUMBER = re.compile(r"\+?[0-9*#]{1,32}")
_SIP_USER = re.compile(r"[A-Za-z0-9._+\-*#]{1,64}@[A-Za-z0-9.\-\[\]:]{1,255}")
_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def parse_plan(body: bytes | str) -> Plan:
    if isinstance(body, str):
        body = body.encode()
    if not body.strip():
        raise PlanError("empty answer")
    if len(body) > MAX_PLAN_BYTES:
        raise PlanError(f"answer above {MAX_PLAN_BYTES} bytes")
    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise PlanError(f"invalid XML: {exc}") from exc
    if root.tag != "Response":
        raise PlanError(f"the root is <{_shown(root.tag)}>, not <Response>")
    _no_text(root)
    actions = list(root)
    if len(actions) != 1:
        raise PlanError(f"<Response> holds {len(actions)} actions, not one")
    return _action(actions[0])


def _action(element: Element) -> Plan:
    match element.tag:
        case "Forward":
            return _forward(element)
        case "Reject":
            _only(element, ("reason",))
            _empty(element)
            reason = element.get("reason")
            if reason is None:
                return Reject()
            if reason.strip().lower() != "busy":
                raise PlanError(f"<Reject reason> is {_shown(reason)!r}, not busy")
            return Reject(reason=RejectReason.BUSY)
        case "Hangup":
            _only(element, ())
            _empty(element)
            return Hangup()
        case "Queue":
            _only(element, ("queue_id",))
            _empty(element)
            return Queue(queue_id=_identifier(element, "queue_id", required=True) or "")
    raise PlanError(f"unknown action <{_shown(element.tag)}>")


def _forward(element: Element) -> Forward:
    _only(
        element,
        (
            "music_on_hold",
            "voicemail",
            "voicemail_announcement",
            "voicemail_as_attachment",
            "forward_announcement",
        ),
    )
    _no_text(element)
    targets = []
    for child in element:
        if child.tag != "Target":
            raise PlanError(f"<Forward> holds <{_shown(child.tag)}>, not <Target>")
        targets.append(_target(child))
    if len(targets) > MAX_TARGETS:
        raise PlanError(f"more than {MAX_TARGETS} targets")
    return Forward(
        targets=tuple(targets),
        music_on_hold=_flag(element, "music_on_hold", default=False),
        voicemail=_flag(element, "voicemail", default=True),
        voicemail_announcement=_identifier(element, "voicemail_announcement"),
        voicemail_as_attachment=_flag(element, "voicemail_as_attachment", default=False),
        forward_announcement=_identifier(element, "forward_announcement"),
    )


def _target(element: Element) -> ForwardTarget:
    _only(element, ("ringtime",))
    _no_text(element)
    numbers = []
    for child in element:
        if child.tag != "Number":
            raise PlanError(f"<Target> holds <{_shown(child.tag)}>, not <Number>")
        _only(child, ())
        if len(child):
            raise PlanError("<Number> holds elements")
        numbers.append(_number((child.text or "").strip()))
    if not numbers:
        raise PlanError("a <Target> without <Number>")
    if len(numbers) > MAX_NUMBERS:
        raise PlanError(f"a <Target> with more than {MAX_NUMBERS} numbers")
    return ForwardTarget(numbers=tuple(numbers), ringtime=_ringtime(element.get("ringtime")))


def _number(text: str) -> str:
    if _NUMBER.fullmatch(text) or _SIP_USER.fullmatch(text):
        return text
    raise PlanError(f"<Number> {_shown(text)!r} is no number, extension or user@host")


def _ringtime(value: str | None) -> float:
    if value is None:
        return DEFAULT_RINGTIME
    try:
        seconds = float(value)
    except ValueError as exc:
        raise PlanError(f"ringtime {_shown(value)!r} is no number") from exc
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_RINGTIME:
        raise PlanError(f"ringtime must be above 0 and at most {MAX_RINGTIME:g} seconds")
    return seconds


def _flag(element: Element, name: str, *, default: bool) -> bool:
    value = element.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise PlanError(f"{name} is {_shown(value)!r}, not true or false")


def _identifier(element: Element, name: str, *, required: bool = False) -> str | None:
    value = element.get(name)
    if value is None:
        if required:
            raise PlanError(f"<{element.tag}> needs {name}")
        return None
    value = value.strip()
    if not _ID.fullmatch(value):
        raise PlanError(f"{name} {_shown(value)!r} is no id")
    return value


def _only(element: Element, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(element.attrib) - set(allowed))
    if unknown:
        raise PlanError(f"<{element.tag}> has no attribute {_shown(unknown[0])!r}")


def _empty(element: Element) -> None:
    if len(element) or (element.text or "").strip():
        raise PlanError(f"<{element.tag}> holds content")


def _no_text(element: Element) -> None:
    if (element.text or "").strip() or any((child.tail or "").strip() for child in element):
        raise PlanError(f"<{_shown(element.tag)}> holds text")


def _shown(value: str) -> str:
    """At most 40 characters of what the answer said (it reaches the call's events)."""
    return value if len(value) <= 40 else value[:40] + "..."

"""Bitrix24 REST replies (the shapes of ``/rest/<method>``), built from plain values.

Success::

    {"result": <the method's result>, "time": {"start": ..., "finish": ..., ...}}

``voximplant.callback.start`` answers ``{"RESULT": true, "CALL_ID": "..."}``,
``voximplant.line.get`` an object of line id to line name and ``voximplant.tts.voices.get``
an object of voice id to voice name.  A refusal is::

    {"error": "ERROR_CODE", "error_description": "why, for people"}

with the codes below (those of Bitrix24 where it has one).  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from callbridge.calls.lines import Line
from callbridge.dialects.bitrix_voices import bitrix_voices_offered

# Error codes.
NO_AUTH_FOUND = "NO_AUTH_FOUND"  # no API key, or an unknown one
INSUFFICIENT_SCOPE = "insufficient_scope"  # the key lacks the method's scope
ACCESS_DENIED = "ACCESS_DENIED"  # the key may not call the number (toll-fraud guards)
ERROR_ARGUMENT = "ERROR_ARGUMENT"  # a field is missing or invalid
ERROR_CORE = "ERROR_CORE"  # FROM_LINE names no line of the key ("Could not find line ...")
INVALID_REQUEST = "INVALID_REQUEST"  # the body is not a form or JSON object, or too large
ERROR_METHOD_NOT_FOUND = "ERROR_METHOD_NOT_FOUND"
QUERY_LIMIT_EXCEEDED = "QUERY_LIMIT_EXCEEDED"  # the key's call limits
OVERLOAD_LIMIT = "OVERLOAD_LIMIT"  # the server refuses new calls for now
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class NamedVoice(Protocol):
    """A text-to-speech voice (``callbridge.media.tts.Voice`` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True, kw_only=True)
class Timing:
    """When the server started and finished a request (Unix seconds)."""

    start: float
    finish: float


def result_body(result: Any, *, timing: Timing) -> dict[str, Any]:
    return {"result": result, "time": time_json(timing)}


def error_body(code: str, description: str) -> dict[str, str]:
    return {"error": code, "error_description": description}


def time_json(timing: Timing) -> dict[str, Any]:
    duration = max(0.0, timing.finish - timing.start)
    return {
        "start": timing.start,
        "finish": timing.finish,
        "duration": duration,
        "processing": duration,
        "date_start": _iso(timing.start),
        "date_finish": _iso(timing.finish),
    }


def callback_started(call_id: str) -> dict[str, Any]:
    """``voximplant.callback.start``: the callback's id (its line leg's CallSid)."""
    return {"RESULT": True, "CALL_ID": call_id}


def lines_result(lines: Iterable[Line]) -> dict[str, str]:
    """``voximplant.line.get``: line id → line name."""
    return {line.id: line.name or line.id for line in lines}


def voices_result(voices: Iterable[NamedVoice]) -> dict[str, str]:
    """``voximplant.tts.voices.get``: voice id → name, Bitrix24's ids first (those whose
    language espeak-ng has), then espeak-ng's own (its ``_`` read as spaces)."""
    espeak = {voice.id: voice.name.replace("_", " ").strip() for voice in voices}
    return {**bitrix_voices_offered(espeak), **espeak}


def fields_description(message: str, fields: Mapping[str, str]) -> str:
    """An ``InvalidRequest`` as one sentence: ``TO_NUMBER: must be ...; VOICE: ...``."""
    if not fields:
        return message
    return "; ".join(f"{name}: {why}" for name, why in fields.items())


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")

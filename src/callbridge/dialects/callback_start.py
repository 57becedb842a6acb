"""Bitrix24's ``voximplant.callback.start`` (seed-003) read into a :class:`CallbackRequest`.

The method takes ``FROM_LINE`` (a line's id, e.g. ``reg1332``), ``TO_NUMBER`` (the client),
``TEXT_TO_PRONOUNCE`` (what the manager hears on answering) and ``VOICE`` (optional: a voice
of ``voximplant.tts.voices.get``), from a form, a JSON object or the query string, names
matched case-insensitively; other fields (``auth``, ...) are ignored, as Bitrix24 does.

The line is rung first, by its own rules (everyone at once, then its forward), with the
client's number as caller ID; whoever answers hears the text, then the client is called
with the line's number as caller ID and the two are bridged.  Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from callbridge.calls.lines import Line
from callbridge.calls.request import (
    Announcement,
    CallbackMode,
    CallbackRequest,
    LegName,
    LegSpec,
)
from callbridge.dialects.bitrix_voices import bitrix_voice
from callbridge.dialects.errors import InvalidRequest
from callbridge.dialects.fields import FieldReader, Fields, check_address, check_length
from callbridge.dialects.outbound_call import DEFAULT_RING_TIMEOUT

FROM_LINE = "FROM_LINE"
TO_NUMBER = "TO_NUMBER"
TEXT_TO_PRONOUNCE = "TEXT_TO_PRONOUNCE"
VOICE = "VOICE"
MAX_TEXT_CHARS = 1000
MAX_NUMBER_DIGITS = 32

_PHONE = re.compile(rf"\+?[0-9]{{2,{MAX_NUMBER_DIGITS}}}")
_NUMBER_FORMATTING = str.maketrans("", "", " -().\u00a0")


class UnknownLine(InvalidRequest):
    """``FROM_LINE`` names no line this API key may use."""

    def __init__(self, line_id: str, *, others: Mapping[str, str] | None = None) -> None:
        unknown = "is not a line of this API key (voximplant.line.get lists them)"
        super().__init__(
            f"Could not find line {line_id}", fields={**(others or {}), FROM_LINE: unknown}
        )
        self.line_id = line_id


def lines_of_key(lines: Iterable[Line], key_name: str) -> tuple[Line, ...]:
    """The lines the API key named ``key_name`` may use, in configured order."""
    return tuple(line for line in lines if line.usable_by(key_name))


def asks_for_voice(fields: Fields) -> bool:
    """Whether the request names a voice (so the voices must be listed to check it)."""
    return any(value.strip() for value in fields.get(VOICE))


def parse_callback_start(
    fields: Fields,
    *,
    lines: Iterable[Line],
    voices: Mapping[str, str],
    api_key_id: str | None,
) -> CallbackRequest:
    """The callback ``fields`` ask for; ``lines`` are those the key may use and ``voices``
    the voice ids (to names) a ``VOICE`` may name.  Raises :class:`UnknownLine` or
    ``InvalidRequest`` naming each refused field."""
    reader = FieldReader(fields)
    line_id = reader.text(FROM_LINE, required="is required: the id of the line to ring")
    to = reader.checked(TO_NUMBER, check_phone, required="is required: the client's number")
    text = reader.checked(
        TEXT_TO_PRONOUNCE,
        check_length(MAX_TEXT_CHARS),
        required="is required: what the manager hears before the client is called",
    )
    voice = reader.checked(VOICE, lambda value: check_voice(value, voices))
    line = _line(lines, line_id)
    if line_id is not None and line is None:
        raise UnknownLine(line_id, others=reader.errors)
    reader.raise_if_failed("the callback request has invalid fields")
    if line is None or to is None or text is None:  # pragma: no cover - failed above
        raise InvalidRequest("the callback request has invalid fields")
    return callback_request(line=line, to=to, text=text, voice=voice, api_key_id=api_key_id)


def callback_request(
    *, line: Line, to: str, text: str, voice: str | None, api_key_id: str | None
) -> CallbackRequest:
    """Ring ``line`` (A, showing the client's number), announce ``text`` to whoever answers,
    then call ``to`` (B, showing the line's number) and bridge them."""
    leg_a = LegSpec(
        to=line.id,
        from_=to,
        line=line,
        ring_timeout=line.ring_timeout,
        announce=Announcement(text=text, voice=voice),
    )
    leg_b = LegSpec(to=to, from_=line.caller_id, ring_timeout=DEFAULT_RING_TIMEOUT)
    return CallbackRequest(
        api_key_id=api_key_id,
        leg_a=leg_a,
        leg_b=leg_b,
        mode=CallbackMode.SEQUENTIAL,
        first=LegName.A,
    )


def check_phone(value: str) -> str:
    """A phone number (spaces, ``-``, ``.`` and parentheses between digits are dropped:
    ``+7 (911) 123-45-67`` is ``+79111234567``) or a SIP URI."""
    if value.lower().startswith(("sip:", "sips:")):
        return check_address(value)
    number = value.translate(_NUMBER_FORMATTING)
    if not _PHONE.fullmatch(number):
        raise ValueError(
            f"must be a phone number: digits with an optional leading + (at most "
            f"{MAX_NUMBER_DIGITS}), e.g. +79111234567, or a SIP URI"
        )
    return number


def check_voice(value: str, voices: Mapping[str, str]) -> str:
    """The voice id ``value`` names (ids compare case-insensitively; a Bitrix24 voice id
    names the espeak-ng voice of its language)."""
    by_folded = {voice_id.lower(): voice_id for voice_id in voices}
    alias = bitrix_voice(value, voices)
    if alias is not None:
        return alias
    found = by_folded.get(value.lower())
    if found is None:
        raise ValueError(
            f"is not a known voice ({value[:64]!r}); voximplant.tts.voices.get lists them"
        )
    return found


def _line(lines: Iterable[Line], line_id: str | None) -> Line | None:
    return next((line for line in lines if line.id == line_id), None)

"""The values an API hands to the call service: what to call and whom to tell (one outbound
call, or a two-leg callback)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from callbridge.callflow.verbs import Program
from callbridge.calls.api_dialect import ApiDialect
from callbridge.calls.lines import Line
from callbridge.webhooks.params import DEFAULT_EVENTS, CallbackEvent


@dataclass(frozen=True, kw_only=True)
class StatusCallback:
    """Where a call's progress events go (seed-001 ``statusCallback*``, ``secretKey``,
    ``optional``)."""

    url: str
    method: str = "POST"
    events: tuple[CallbackEvent, ...] = DEFAULT_EVENTS
    secret_key: str | None = None
    optional: str | None = None


@dataclass(frozen=True, kw_only=True)
class OutboundCallRequest:
    """One outbound call, validated by the dialect that parsed it.

    ``to`` and ``from_`` are a number, an extension or a SIP URI.  With ``url`` the voice
    application there runs when ``to`` answers; without it, ``from_`` is called next and the
    two are bridged (click to call).  ``program`` is an inline document (Twilio's
    ``Twiml``), run instead of a URL's; ``dialect`` words the call's callbacks and document
    fetches for the API that placed it (Callbridge's own without one)."""

    api_key_id: str | None
    to: str
    from_: str
    caller_name: str | None = None
    url: str | None = None
    method: str = "POST"
    send_digits: str | None = None
    status_callback: StatusCallback | None = None
    ring_timeout: float = 60.0
    record: bool = False
    program: Program | None = None
    dialect: ApiDialect | None = None
    external_id: str | None = None  # seed-002's: stored, listed, in the status callbacks


def caller_id_user(address: str) -> str:
    """The user part to put in From for ``address`` (a number, an extension or a SIP URI):
    ``sip:agent@host`` → ``agent``."""
    if address.lower().startswith(("sip:", "sips:")):
        user = address.split(":", 1)[1].split("@", 1)[0] if "@" in address else ""
        return user.split(";", 1)[0] or "anonymous"
    return address or "anonymous"


@dataclass(frozen=True, kw_only=True)
class Announcement:
    """What a leg hears: ``text`` spoken in ``voice`` (the default voice when ``None``), or
    the WAV audio at ``url``.  Exactly one of ``text`` and ``url`` is set."""

    text: str | None = None
    voice: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.url is None):
            raise ValueError("an announcement is either text or an audio URL")


class CallbackMode(StrEnum):
    SEQUENTIAL = "sequential"  # the first leg, then (once it answered) the second
    SIMULTANEOUS = "simultaneous"  # both at once


class LegName(StrEnum):
    A = "A"
    B = "B"


@dataclass(frozen=True, kw_only=True)
class LegSpec:
    """One leg of a two-leg callback (seed-000): whom to call and what that leg sees.

    ``from_`` is the caller ID shown to this leg; ``headers`` are extra SIP headers of its
    INVITE.  Once it answers, before it is connected: ``send_digits`` are sent to it (DTMF,
    ``w``/``W`` waits), ``announce`` is played to it, then the voice application at ``url``
    (fetched with ``method``) runs on it alone (a whisper); ``record`` records what it says
    from its answer on.  With ``line`` the leg rings that line by its rules (``to`` is then
    the line's id) and is whoever answers first."""

    to: str
    from_: str
    caller_name: str | None = None
    trunk: str | None = None
    ring_timeout: float = 60.0
    headers: tuple[tuple[str, str], ...] = ()
    announce: Announcement | None = None
    status_callback: StatusCallback | None = None
    line: Line | None = None
    url: str | None = None
    method: str = "POST"
    send_digits: str | None = None
    record: bool = False


@dataclass(frozen=True, kw_only=True)
class CallbackRequest:
    """``POST /voice/call/callback``: call ``leg_a`` and ``leg_b`` and bridge them.

    ``first`` is the leg dialled first in sequential mode; ``failure_announce`` is what the
    answered leg hears when the other cannot be connected (``None``: the service's default).
    """

    api_key_id: str | None
    leg_a: LegSpec
    leg_b: LegSpec
    mode: CallbackMode = CallbackMode.SEQUENTIAL
    first: LegName = LegName.A
    failure_announce: Announcement | None = None

    def __post_init__(self) -> None:
        has_line = self.leg_a.line is not None or self.leg_b.line is not None
        if has_line and self.mode is not CallbackMode.SEQUENTIAL:
            raise ValueError("a leg that rings a line is dialled in sequential mode only")

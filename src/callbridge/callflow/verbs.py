"""The verbs a call-flow program is made of: the one model every dialect translates into.

Values are validated on construction; nonsense raises :class:`InvalidVerb`.
URLs are absolute (dialects resolve them against the document's base URL).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from callbridge.callflow.digits import plan_send_digits, require_dtmf_keys
from callbridge.callflow.errors import InvalidVerb

METHODS = frozenset({"GET", "POST"})
MAX_LOOP = 1000
MAX_SAY_CHARS = 4096
MAX_GATHER_DIGITS = 128

TargetKind = Literal["number", "sip", "user"]
RejectReason = Literal["rejected", "busy"]

_NUMBER = re.compile(r"\+?[0-9*#]{1,32}")
_USER = re.compile(r"[A-Za-z0-9._+-]{1,64}")
_SIP = re.compile(r"sips?:\S+", re.IGNORECASE)
_ADDRESS = {"number": _NUMBER, "sip": _SIP, "user": _USER}


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidVerb(message)


def _check_seconds(value: float, what: str, *, positive: bool = False) -> None:
    _require(math.isfinite(value), f"{what} must be a finite number, not {value!r}")
    if positive:
        _require(value > 0, f"{what} must be positive, not {value!r}")
    else:
        _require(value >= 0, f"{what} must not be negative, not {value!r}")


def _check_loop(loop: int) -> None:
    _require(0 <= loop <= MAX_LOOP, f"loop must be 0 (repeat) to {MAX_LOOP}, not {loop!r}")


def _check_optional_text(value: str | None, what: str) -> None:
    _require(value is None or bool(value.strip()), f"{what} must not be empty")


def _check_method(method: str) -> None:
    _require(method in METHODS, f"method must be GET or POST, not {method!r}")


@dataclass(frozen=True, kw_only=True)
class Say:
    """Speak ``text`` (text to speech), ``loop`` times (0 = repeat until the call ends)."""

    text: str
    voice: str | None = None
    language: str | None = None
    loop: int = 1

    def __post_init__(self) -> None:
        _require(bool(self.text.strip()), "Say needs text")
        _require(len(self.text) <= MAX_SAY_CHARS, f"Say text exceeds {MAX_SAY_CHARS} characters")
        _check_optional_text(self.voice, "voice")
        _check_optional_text(self.language, "language")
        _check_loop(self.loop)


@dataclass(frozen=True, kw_only=True)
class Play:
    """Play the audio at ``url``, ``loop`` times (0 = repeat until the call ends)."""

    url: str
    loop: int = 1

    def __post_init__(self) -> None:
        _require(bool(self.url.strip()), "Play needs a URL")
        _check_loop(self.loop)


@dataclass(frozen=True, kw_only=True)
class Pause:
    """Silence for ``length`` seconds."""

    length: float = 1.0

    def __post_init__(self) -> None:
        _check_seconds(self.length, "Pause length")


@dataclass(frozen=True, kw_only=True)
class SendDigits:
    """Send DTMF; 'w' waits 0.5 s and 'W' 1 s (see :func:`plan_send_digits`)."""

    digits: str

    def __post_init__(self) -> None:
        _require(bool(self.digits), "SendDigits needs digits")
        plan_send_digits(self.digits)


Prompt = Say | Play | Pause
PROMPT_TYPES = (Say, Play, Pause)


@dataclass(frozen=True, kw_only=True)
class Gather:
    """Play ``prompts`` and collect digits; ``num_digits=None`` collects until the timeout
    or the finish key."""

    num_digits: int | None = None
    timeout: float = 5.0
    finish_on_key: str = "#"
    action: str | None = None
    method: str = "POST"
    prompts: tuple[Prompt, ...] = ()

    def __post_init__(self) -> None:
        if self.num_digits is not None:
            _require(
                1 <= self.num_digits <= MAX_GATHER_DIGITS,
                f"numDigits must be 1 to {MAX_GATHER_DIGITS}, not {self.num_digits!r}",
            )
        _check_seconds(self.timeout, "Gather timeout", positive=True)
        require_dtmf_keys(self.finish_on_key, "finishOnKey")
        _check_optional_text(self.action, "action")
        _check_method(self.method)
        for prompt in self.prompts:
            _require(isinstance(prompt, PROMPT_TYPES), f"Gather cannot nest {prompt!r}")


@dataclass(frozen=True, kw_only=True)
class DialTarget:
    """One party to ring: a phone number, a SIP URI or a registered user."""

    kind: TargetKind
    address: str
    send_digits: str | None = None

    def __post_init__(self) -> None:
        pattern = _ADDRESS.get(self.kind)
        if pattern is None:
            raise InvalidVerb(f"unknown dial target kind {self.kind!r}")
        _require(
            pattern.fullmatch(self.address) is not None,
            f"invalid {self.kind} address {self.address!r}",
        )
        if self.send_digits is not None:
            _require(bool(self.send_digits), "sendDigits must not be empty")
            plan_send_digits(self.send_digits)


@dataclass(frozen=True, kw_only=True)
class DialGroup:
    """Targets that ring at once, for at most ``ring_timeout`` seconds."""

    targets: tuple[DialTarget, ...]
    ring_timeout: float = 30.0

    def __post_init__(self) -> None:
        _require(bool(self.targets), "a dial group needs at least one target")
        _check_seconds(self.ring_timeout, "ring timeout", positive=True)


@dataclass(frozen=True, kw_only=True)
class Dial:
    """Connect the call to the first target that answers; groups are tried in order."""

    groups: tuple[DialGroup, ...]
    caller_id: str | None = None
    time_limit: float | None = None
    action: str | None = None
    method: str = "POST"
    record: bool = False

    def __post_init__(self) -> None:
        _require(bool(self.groups), "Dial needs at least one target")
        _check_optional_text(self.caller_id, "callerId")
        if self.time_limit is not None:
            _check_seconds(self.time_limit, "timeLimit", positive=True)
        _check_optional_text(self.action, "action")
        _check_method(self.method)


@dataclass(frozen=True, kw_only=True)
class Enqueue:
    """Put the caller in ``queue`` until a member has talked to it, it hung up, or it
    overflowed or left (``<Leave/>`` in a wait document); then ``action`` (if any) is asked
    with ``QueueResult`` and ``QueueTime``.  ``wait_url``: while the caller waits, the
    documents fetched from it (``wait_method``) play in a loop instead of the queue's music
    and announcements (:mod:`callbridge.callflow.wait_documents`).  ``run_overflow``: an
    overflow runs the queue's overflow plan (a number routed to the queue; documents cannot
    set it)."""

    queue: str
    wait_url: str | None = None
    wait_method: str = "POST"
    action: str | None = None
    method: str = "POST"
    run_overflow: bool = False

    def __post_init__(self) -> None:
        _require(bool(self.queue.strip()), "Enqueue needs a queue name")
        _check_optional_text(self.wait_url, "waitUrl")
        _check_method(self.wait_method)
        _check_optional_text(self.action, "action")
        _check_method(self.method)


@dataclass(frozen=True, kw_only=True)
class Record:
    """Record the caller until a finish key, ``max_length`` seconds, or ``timeout``
    seconds of silence."""

    max_length: float = 3600.0
    finish_on_key: str = "1234567890*#"
    action: str | None = None
    method: str = "POST"
    play_beep: bool = True
    timeout: float = 5.0

    def __post_init__(self) -> None:
        _check_seconds(self.max_length, "maxLength", positive=True)
        require_dtmf_keys(self.finish_on_key, "finishOnKey")
        _check_optional_text(self.action, "action")
        _check_method(self.method)
        _check_seconds(self.timeout, "Record timeout")


@dataclass(frozen=True, kw_only=True)
class Redirect:
    """Continue with the document at ``url``."""

    url: str
    method: str = "POST"

    def __post_init__(self) -> None:
        _require(bool(self.url.strip()), "Redirect needs a URL")
        _check_method(self.method)


@dataclass(frozen=True, kw_only=True)
class Reject:
    """Refuse an unanswered call (603 for 'rejected', 486 for 'busy')."""

    reason: RejectReason = "rejected"

    def __post_init__(self) -> None:
        _require(self.reason in ("rejected", "busy"), f"unknown reject reason {self.reason!r}")


@dataclass(frozen=True)
class Hangup:
    """End the call."""


@dataclass(frozen=True)
class Leave:
    """In a queue's wait document: the caller leaves the queue (its ``<Enqueue>`` goes on
    with ``QueueResult`` leave).  Anywhere else it does nothing."""


@dataclass(frozen=True, kw_only=True)
class Voicemail:
    """The caller leaves a message in ``mailbox`` (None: the number's mailbox) after
    ``announcement`` (None: the mailbox's greeting); ``as_attachment`` mails it as an MP3
    (None: as the mailbox says).  The call ends after it."""

    mailbox: str | None = None
    announcement: str | None = None
    as_attachment: bool | None = None

    def __post_init__(self) -> None:
        _check_optional_text(self.mailbox, "mailbox")
        _check_optional_text(self.announcement, "announcement")


Verb = (
    Say
    | Play
    | Pause
    | SendDigits
    | Gather
    | Dial
    | Enqueue
    | Record
    | Redirect
    | Reject
    | Hangup
    | Leave
    | Voicemail
)
VERB_TYPES = (
    Say,
    Play,
    Pause,
    SendDigits,
    Gather,
    Dial,
    Enqueue,
    Record,
    Redirect,
    Reject,
    Hangup,
    Leave,
    Voicemail,
)


@dataclass(frozen=True, kw_only=True)
class Program:
    """The verbs of one document, in order, and the URL the document came from."""

    verbs: tuple[Verb, ...]
    base_url: str

    def __post_init__(self) -> None:
        for verb in self.verbs:
            _require(isinstance(verb, VERB_TYPES), f"not a verb: {verb!r}")

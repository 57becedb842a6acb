"""What the runner needs from the rest of the system (ports), and the values they return."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from callbridge.callflow.verbs import Dial, DialTarget, Enqueue, Voicemail
from callbridge.engine.events import Ended, EndReason, LegState
from callbridge.media.plane import AudioSource
from callbridge.vocabulary import CallStatus

# How a Dial ended (``DialCallStatus``): one of the final statuses of a call.
DialStatus = CallStatus


class LegPort(Protocol):
    """The part of :class:`callbridge.engine.leg.CallLeg` the runner drives."""

    id: str
    state: LegState

    @property
    def ended(self) -> Ended | None: ...

    async def wait_ended(self) -> Ended: ...

    async def answer(self) -> None: ...

    async def hangup(
        self, reason: EndReason = EndReason.HUNG_UP, sip_code: int | None = None, detail: str = ""
    ) -> Ended: ...

    async def play(self, source: AudioSource) -> bool: ...

    async def say(self, text: str, voice: str | None = None) -> bool: ...

    async def send_dtmf(self, digits: str) -> None: ...

    async def collect_digits(  # CallLeg's signature
        self,
        *,
        max_digits: int,
        timeout: float,
        finish_on_key: str = "#",
    ) -> str: ...

    def flush_digits(self) -> None: ...

    def record(self, path: Path) -> None: ...

    def stop_recording(self) -> None: ...


class DocumentFetcher(Protocol):
    """Fetches application documents; adds the call's standard parameters (CallSid, From,
    To, ...) itself and enforces its own URL policy.  Raises :class:`FetchError`."""

    async def fetch(self, url: str, method: str, params: Mapping[str, str]) -> bytes: ...


class AudioLoader(Protocol):
    """Turns a Play URL into audio (raises :class:`FetchError`) and supplies the record beep."""

    async def load(self, url: str) -> AudioSource: ...

    def beep(self) -> AudioSource: ...


@dataclass(frozen=True, kw_only=True)
class DialResult:
    """How a Dial ended: ``duration`` is the bridged time in seconds; when nobody answered,
    ``target_ends`` says how its (last group's) targets ended, those it could not dial
    included (offline, or failed)."""

    status: DialStatus
    duration: float
    answered_target: DialTarget | None
    recording_url: str | None = None
    target_ends: tuple[EndReason, ...] = ()


@dataclass(frozen=True, kw_only=True)
class EnqueueResult:
    """How an Enqueue ended (Twilio's ``QueueResult``): ``bridged`` (a member talked to
    the caller), ``hangup`` (the caller hung up while waiting) or ``leave`` (the caller
    overflowed: max_wait, or no member logged in); ``queue_time``: seconds waited."""

    result: str
    queue_time: float


WaitEnd = Literal["leave", "hangup", "failed"]


class WaitAudio(Protocol):
    """What a queued caller hears instead of the queue's music (an ``<Enqueue waitUrl>``'s
    documents, :class:`~callbridge.callflow.wait_documents.WaitDocuments`), until
    cancelled: ``leave`` (``<Leave/>``), ``hangup`` (the leg ended) or ``failed`` (the
    queue's music takes over).  ``params`` are the queue's, current at each fetch."""

    async def play(self, params: Callable[[], Mapping[str, str]]) -> WaitEnd: ...


class Queueing(Protocol):
    """Puts the leg in a queue (:class:`~callbridge.callflow.verbs.Enqueue`); raises
    ``LookupError`` for an unknown queue.  ``wait``: what the caller hears meanwhile
    (``None``: the queue's music)."""

    async def enqueue(
        self, leg: LegPort, enqueue: Enqueue, *, wait: WaitAudio | None = None
    ) -> EnqueueResult: ...


class Dialer(Protocol):
    """Rings the Dial's groups in order and bridges ``leg`` to the first answer."""

    async def dial(self, leg: LegPort, dial: Dial) -> DialResult: ...


@dataclass(frozen=True, kw_only=True)
class StoredRecording:
    url: str
    duration: float


class RecordingStore(Protocol):
    """Where Record verbs write, and how the result becomes a URL."""

    def new_path(self, leg_id: str) -> Path: ...

    async def publish(self, path: Path) -> StoredRecording: ...


class VoicemailBox(Protocol):
    """Leaves the caller's message (``<Voicemail>``) as the call's number and mailboxes
    say; True if a message was kept.  Raises :class:`InvalidVerb` for an unknown mailbox."""

    async def deposit(self, leg: LegPort, verb: Voicemail) -> bool: ...

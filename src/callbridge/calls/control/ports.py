"""What call control uses of other features, as it needs them (ports owned here; the
server wires the implementations, and a port left ``None`` behaves as seed-004 says for a
feature that does not exist: no queue runs the backup plan, no voicemail is a missed call)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from callbridge.engine.leg import CallLeg
from callbridge.media.plane import AudioSource


class Announcements(Protocol):
    """Announcements by id (``[[announcements]]`` and uploads); ``source`` raises
    ``LookupError`` for an unknown id."""

    async def source(self, announcement_id: str) -> AudioSource: ...


class HoldMusic(Protocol):
    def source(self) -> AudioSource:
        """Endless music (``[media] music_on_hold`` or the built-in piece)."""
        ...


class QueueWait(Protocol):
    """What a queue's wait came to (``answered_by`` set: a member took the call and the
    bridged call has ended; else ``overflow_plan`` is the queue's seed-004 XML, if any)."""

    @property
    def answered_by(self) -> str | None: ...

    @property
    def overflow_plan(self) -> str | None: ...

    @property
    def waited(self) -> float: ...


class Queues(Protocol):
    def exists(self, queue_id: str) -> bool: ...

    async def wait_in(
        self,
        leg: CallLeg,
        queue_id: str,
        *,
        answered: Callable[[str], Awaitable[None]] | None = None,
    ) -> QueueWait:
        """``answered`` is told the member who answered, before the bridge."""
        ...


class Voicemail(Protocol):
    def has_mailbox(self, mailbox: str) -> bool: ...

    async def deposit(
        self,
        leg: CallLeg,
        *,
        mailbox: str,
        announcement: str | None,
        as_attachment: bool,
        caller: str,
        number: str,
    ) -> bool: ...


@dataclass(frozen=True, kw_only=True)
class ControlPorts:
    announcements: Announcements | None = None
    hold_music: HoldMusic | None = None
    queues: Queues | None = None
    voicemail: Voicemail | None = None

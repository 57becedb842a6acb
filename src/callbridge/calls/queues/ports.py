"""What the queues need from elsewhere (ports owned here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal, Protocol

from callbridge.media.plane import AudioSource

ONLINE = "online"
BUSY = "busy"
WRAPUP = "wrapup"
OFFLINE = "offline"


class MemberPresence(Protocol):
    """A user's presence (branch originate's ``calls.presence.Presence``): ``online``,
    ``busy``, ``wrapup`` or ``offline``; ``rest`` puts a user in wrap-up."""

    def state(self, extension: str) -> str: ...

    def rest(self, extension: str, seconds: float) -> None: ...


class HoldMusic(Protocol):
    """Music on hold (branch prompts' ``calls.hold_music.HoldMusic``): endless, each
    caller from the start."""

    def source(self) -> AudioSource: ...


class WaitAudio(Protocol):
    """What a caller hears instead of the music (the call flow's ``WaitDocuments`` of an
    ``<Enqueue waitUrl>``), until cancelled: ``leave``, ``hangup`` (the leg ended) or
    ``failed`` (the music takes over).  ``params``: the queue's, current at each call."""

    async def play(
        self, params: Callable[[], Mapping[str, str]]
    ) -> Literal["leave", "hangup", "failed"]: ...

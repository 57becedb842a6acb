"""MemberBoard: the members' states as the queues see them — presence (registered, in a
call, in wrap-up), plus what the queues themselves know: members being rung, in a queue
call, resting after one, and each member's record on this node (queue calls answered, when
the last; the strategies' view when the statistics' store cannot be read)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from callbridge.calls.queues.ports import (
    BUSY,
    OFFLINE,
    ONLINE,
    WRAPUP,
    MemberPresence,
)
from callbridge.calls.queues.strategy import MemberRecord

RINGING = "ringing"  # rung by a queue now (not to be rung again meanwhile)


class MemberBoard:
    """Shared by every queue (a member of two queues is busy in both)."""

    def __init__(
        self, *, presence: MemberPresence, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._presence = presence
        self._clock = clock
        self._ringing: dict[str, int] = {}
        self._in_call: dict[str, int] = {}
        self._wrapup_until: dict[str, float] = {}
        self.records: dict[str, MemberRecord] = {}

    def state(self, extension: str) -> str:
        """``offline``, ``busy`` (in a call), ``wrapup``, ``ringing`` (rung by a queue) or
        ``online`` (free)."""
        outside = self._presence.state(extension)
        if outside == OFFLINE:
            return OFFLINE
        if self._in_call.get(extension) or outside == BUSY:
            return BUSY
        if self._wrapup_until.get(extension, 0.0) > self._clock() or outside == WRAPUP:
            return WRAPUP
        if self._ringing.get(extension):
            return RINGING
        return ONLINE

    def free(self, members: Iterable[str]) -> set[str]:
        return {m for m in members if self.state(m) == ONLINE}

    def logged_in(self, members: Iterable[str]) -> bool:
        return any(self.state(m) != OFFLINE for m in members)

    def ringing(self, members: Iterable[str], *, on: bool) -> None:
        for member in members:
            self._ringing[member] = self._ringing.get(member, 0) + (1 if on else -1)

    def call_started(self, member: str) -> None:
        self._in_call[member] = self._in_call.get(member, 0) + 1
        record = self.records.get(member, MemberRecord())
        self.records[member] = replace(
            record, answered=record.answered + 1, last_answered=self._clock()
        )

    def call_ended(self, member: str, *, wrapup: float) -> None:
        self._in_call[member] = max(0, self._in_call.get(member, 0) - 1)
        now = self._clock()
        if wrapup > 0:
            self._wrapup_until[member] = now + wrapup
            self._presence.rest(member, wrapup)

"""LegRun: one leg of a two-leg callback — what to call, its bookkeeping, its SIP leg once
dialled, and the ringback it hears while it waits for the other leg.

Its tasks (event follower, ringback, progress watchers) belong to the callback's
:class:`TaskOwner`, which cancels whatever is left of them when the callback ends.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Protocol

from callbridge.callflow.outcome import Outcome
from callbridge.callflow.ports import RecordingStore
from callbridge.callflow.verbs import Program
from callbridge.calls.request import LegName, LegSpec
from callbridge.calls.switch.ringback import Ringback
from callbridge.calls.tracker import CallTracker
from callbridge.engine.events import (
    Answered,
    EarlyMedia,
    Ended,
    LegEndedError,
    LegState,
    Ringing,
)
from callbridge.engine.leg import CallLeg
from callbridge.engine.tasks import TaskOwner

log = logging.getLogger(__name__)


class LegPrograms(Protocol):
    """Runs a program on one answered leg of a callback, before the bridge, leaving the leg
    up when the program ends; and keeps the leg's recordings."""

    def recordings(self, tracker: CallTracker) -> RecordingStore: ...

    async def run(
        self, leg: CallLeg, tracker: CallTracker, program: Program, *, recordings: RecordingStore
    ) -> Outcome: ...


class LegRun:
    """One leg of the callback: what to call, its bookkeeping, its SIP leg once dialled."""

    def __init__(
        self,
        *,
        name: LegName,
        spec: LegSpec,
        tracker: CallTracker,
        tasks: TaskOwner,
        programs: LegPrograms | None = None,
    ) -> None:
        """``programs`` runs its ``send_digits`` and ``url`` and keeps its recordings
        (without it, asking for them gets the leg an ``error`` event instead)."""
        self._programs = programs
        self.name = name
        self.spec = spec
        self.tracker = tracker
        self.leg: CallLeg | None = None
        self.failure: Ended | None = None  # why it could not be dialled
        self.follower: asyncio.Task[None] | None = None
        self.answer_stored = asyncio.Event()
        self.ready = False
        self.ringing_reported = False  # a line: the first target to ring reported it
        self.watchers: list[asyncio.Task[None]] = []
        self.recordings: RecordingStore | None = None  # its files, once it has any
        self.recording: Path | None = None  # its ``record=true`` recording, while it runs
        self._tasks = tasks
        self._ringback: Ringback | None = None

    @property
    def answered(self) -> bool:
        return self.leg is not None and self.leg.state is LegState.ANSWERED

    @property
    def ended(self) -> Ended | None:
        return self.failure if self.leg is None else self.leg.ended

    def live_leg(self) -> CallLeg:
        assert self.leg is not None, f"leg {self.name.value} was not dialled"
        return self.leg

    async def wait_ended(self) -> Ended:
        return await self.live_leg().wait_ended()

    def start_ringback(self) -> None:
        if self.leg is not None and self._ringback is None and self.answered:
            self._ringback = Ringback(leg=self.leg, tasks=self._tasks)
            self._ringback.start()

    async def watch_progress(self, leg: CallLeg) -> None:
        """``leg``, one of a line's targets, was placed: watch it for ringing (awaited by
        awaiting :attr:`watchers`)."""
        name = f"progress {self.tracker.sid} {leg.id}"
        self.watchers.append(self._tasks.spawn(self._report_ringing(leg), name=name))

    async def _report_ringing(self, leg: CallLeg) -> None:
        """The first of a line's targets to ring reports this leg ringing."""
        async for event in leg.events():
            if isinstance(event, Answered | Ended):
                return
            if isinstance(event, Ringing | EarlyMedia) and not self.ringing_reported:
                self.ringing_reported = True
                await self.tracker.on_leg_event(event)
                return

    async def stop_ringback(self) -> None:
        ringback, self._ringback = self._ringback, None
        if ringback is not None:
            await ringback.stop()

    # --- its own programs and recording (before the bridge) ---

    async def run_program(self, program: Program) -> None:
        """Run the leg's own program (its digits, its application) on it alone."""
        if self._programs is None:
            await self._unavailable("send_digits and url")
            return
        outcome = await self._programs.run(
            self.live_leg(), self.tracker, program, recordings=self._recordings(self._programs)
        )
        log.debug("callback leg %s: program ended: %r", self.tracker.sid, outcome)

    async def start_recording(self) -> None:
        """Record what the leg says from now until it ends."""
        if self._programs is None:
            await self._unavailable("record")
            return
        leg = self.live_leg()
        path = self._recordings(self._programs).new_path(leg.id)
        try:
            leg.record(path)
        except LegEndedError:
            return
        self.recording = path

    async def publish_recording(self) -> None:
        """The leg ended: its recording is stored (its completed event's ``RecordingURL``)."""
        path, self.recording = self.recording, None
        if path is None or self.recordings is None:
            return
        self.live_leg().stop_recording()
        stored = await self.recordings.publish(path)
        await self.tracker.recorded(stored.url)

    def _recordings(self, programs: LegPrograms) -> RecordingStore:
        if self.recordings is None:
            self.recordings = programs.recordings(self.tracker)
        return self.recordings

    async def _unavailable(self, what: str) -> None:
        message = f"{what} not available: the server runs no callback leg programs"
        log.warning("callback leg %s: %s", self.tracker.sid, message)
        await self.tracker.note("error", {"message": message})

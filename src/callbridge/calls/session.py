"""CallSession: a program running on one call leg, whichever way the call went — the
tracked call (status, events, callbacks), the program's runner, the call's recording, the
redirects and hang-ups the API asks for.

An outbound call runs its session on the leg it originated, once answered; an inbound
call runs its session on the caller's leg at once, and the runner answers it when the
program first needs media (or a ``<Dial>`` target answers).  A leg of a two-leg callback
is driven in steps by its owner: :meth:`CallSession.follow` stores its events while
:meth:`CallSession.run_and_keep_leg` runs its own programs on it, leaving it up for the
bridge, and :meth:`CallSession.start_recording` records it from then on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from callbridge.callflow.outcome import Completed, Failed, HungUp, Outcome, Redirected
from callbridge.callflow.runner import CallflowRunner
from callbridge.callflow.verbs import Program
from callbridge.calls.recordings import CallRecordings
from callbridge.calls.tracker import CallTracker
from callbridge.engine.events import Answered, Ended, LegEndedError, LegEvent, LegState
from callbridge.engine.leg import CallLeg

log = logging.getLogger(__name__)


class RunnerFactory(Protocol):
    """A runner for a program on ``leg``; ``keep_leg``: a program that runs out of verbs
    leaves the leg up (its owner does more with it) instead of hanging it up."""

    def __call__(self, leg: CallLeg, *, keep_leg: bool) -> CallflowRunner: ...


# What runs on the leg instead of a program (an inbound number under call control).
Drive = Callable[[CallLeg], Awaitable[None]]

APPLICATION_ERROR_EVENT = "error"


class CallSession:
    """Owned by the call service (or a two-leg callback, which drives its leg in steps
    instead of :meth:`run`); :meth:`run` returns when the leg has ended and its last
    event is stored.  ``redirect`` and ``hang_up`` act on it while it runs (a hang-up asked
    for before :meth:`run` ends the leg as soon as it is given)."""

    def __init__(
        self,
        *,
        tracker: CallTracker,
        recordings: CallRecordings,
        make_runner: RunnerFactory,
        answered_first: bool,
        record: bool = False,
    ) -> None:
        """``answered_first``: the program runs once the leg is answered (an outbound
        call); otherwise at once, on a leg still ringing (an inbound call).  ``record``:
        the leg is recorded from its answer (whenever that comes, for an inbound call)."""
        self._tracker = tracker
        self._recordings = recordings
        self._make_runner = make_runner
        self._answered_first = answered_first
        self._record = record
        self._leg: CallLeg | None = None
        self._runner: CallflowRunner | None = None
        self._recording: Path | None = None
        self._hangup_requested = False
        self._hangup_detail = ""
        self._stored = 0  # leg events stored so far (the follower counts them)
        self._following = True  # False once the follower has stopped (ended or failed)
        self._progress = asyncio.Event()

    @property
    def sid(self) -> str:
        return self._tracker.sid

    @property
    def tracker(self) -> CallTracker:
        return self._tracker

    @property
    def leg(self) -> CallLeg | None:
        """The call's leg, once given (by :meth:`run` or :meth:`attach`)."""
        return self._leg

    async def run(self, leg: CallLeg, program: Program | Drive) -> None:
        self.attach(leg)
        async with asyncio.TaskGroup() as group:
            group.create_task(self.follow(), name=f"events {self.sid}")
            try:
                if not self._hangup_requested:
                    await self._drive(leg, program)
            finally:
                if leg.ended is None:
                    await leg.hangup(detail=self._hangup_detail)

    async def hang_up(self, detail: str = "") -> None:
        """End the call; ``detail`` is the cause its completed event gives."""
        self._hangup_requested = True
        self._hangup_detail = self._hangup_detail or detail
        if self._leg is not None:
            await self._leg.hangup(detail=detail)

    def redirect(self, url: str, method: str) -> bool:
        return self._runner is not None and self._runner.redirect(url, method)

    def run_program(self, program: Program) -> bool:
        """As :meth:`redirect`, with an inline document."""
        return self._runner is not None and self._runner.replace(program)

    def attach(self, leg: CallLeg) -> None:
        """``leg`` is the call's (an owner driving the leg in steps gives it once dialled;
        :meth:`run` does it itself): :meth:`hang_up` ends it from now on."""
        self._leg = leg

    async def follow(self) -> None:
        """Store each of the leg's events in order until it ends; its recording is published
        before its completed event.  :meth:`run` does this itself; an owner driving the leg
        in steps runs it alongside them, from when the leg is attached."""
        leg = self._live_leg()
        try:
            async for event in leg.events():
                if isinstance(event, Ended):
                    await self._publish_recording(leg)
                await self._tracker.on_leg_event(event)
                self._stored += 1
                self._progress.set()
        finally:
            self._following = False  # nobody waits for ever on a follower that failed
            self._progress.set()

    async def events_stored(self) -> None:
        """Returns once every event the leg has had so far is stored (or the follower has
        stopped)."""
        await self._events_stored(len(self._live_leg().history))

    async def run_and_keep_leg(self, program: Program) -> Outcome:
        """Run ``program`` on the followed, answered leg; when it runs out of verbs the leg
        stays up for its owner (``<Hangup/>`` and application errors end it as in any
        call).  Redirects by the API apply while it runs."""
        return await self._run_program(self._live_leg(), program, keep_leg=True)

    def start_recording(self) -> None:
        """Record what the leg says from now until it ends (published before its completed
        event); nothing when it has ended already."""
        leg = self._live_leg()
        path = self._recordings.new_path(leg.id)
        try:
            leg.record(path)
        except LegEndedError:
            return
        self._recording = path

    def _live_leg(self) -> CallLeg:
        assert self._leg is not None, f"call {self.sid}: no leg yet"
        return self._leg

    async def _events_stored(self, count: int) -> None:
        while self._stored < count and self._following:
            self._progress.clear()
            await self._progress.wait()

    async def _drive(self, leg: CallLeg, program: Program | Drive) -> None:
        if self._answered_first:
            try:
                await leg.wait_answered()
            except LegEndedError:
                return
        # Every event so far (answered, or ringing) and its callback is durable before the
        # application runs: a crash from here on still owes, and sends, each of them.
        await self._events_stored(len(leg.history))
        if leg.ended is not None:
            return
        if self._record:
            self._record_from_answer(leg)
        if not isinstance(program, Program):
            await program(leg)
            return
        await self._run_program(leg, program, keep_leg=False)

    async def _run_program(self, leg: CallLeg, program: Program, *, keep_leg: bool) -> Outcome:
        self._runner = runner = self._make_runner(leg, keep_leg=keep_leg)
        outcome = await runner.run(program)
        while isinstance(outcome, Redirected):
            outcome = await runner.follow(outcome)
        await self._log_outcome(outcome)
        return outcome

    def _record_from_answer(self, leg: CallLeg) -> None:
        """Record the leg now if it is answered (an outbound call), else from the moment
        it is (an inbound call: whenever its program, or a Dial target, answers it)."""
        if leg.state is LegState.ANSWERED:
            self._start_recording(leg)
            return

        def answered(event: LegEvent) -> None:
            if isinstance(event, Answered):
                unsubscribe()
                self._start_recording(leg)
            elif isinstance(event, Ended):
                unsubscribe()

        unsubscribe = leg.subscribe(answered)

    def _start_recording(self, leg: CallLeg) -> None:
        if self._recording is not None or leg.ended is not None:
            return
        try:
            self.start_recording()
        except Exception:  # called from the leg's answer: never break it
            log.exception("call %s: recording could not start", self.sid)

    async def _log_outcome(self, outcome: Outcome) -> None:
        if isinstance(outcome, Failed):
            log.warning("call %s: application error: %s", self.sid, outcome.error)
            await self._tracker.note(APPLICATION_ERROR_EVENT, {"message": outcome.error})
        elif isinstance(outcome, HungUp | Completed):
            log.debug("call %s: program ended: %r", self.sid, outcome)

    async def _publish_recording(self, leg: CallLeg) -> None:
        if self._recording is None:
            return
        path, self._recording = self._recording, None
        leg.stop_recording()
        stored = await self._recordings.publish(path)
        await self._tracker.recorded(stored.url)

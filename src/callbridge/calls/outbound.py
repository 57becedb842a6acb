"""OutboundCall: one call placed through the outbound call API (seed-001), from dialling
``to`` until its completed event is stored.

When ``to`` answers, ``send_digits`` go first; then the voice application at ``url`` runs,
or — without ``url`` — ``from`` is dialled and bridged (click to call).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from callbridge.callflow.outcome import Completed, Failed, HungUp, Outcome, Redirected
from callbridge.callflow.runner import CallflowRunner
from callbridge.callflow.verbs import (
    Dial,
    DialGroup,
    DialTarget,
    Program,
    Redirect,
    SendDigits,
    Verb,
)
from callbridge.calls.dialer import EngineDialer, Originator
from callbridge.calls.recordings import CallRecordings
from callbridge.calls.request import OutboundCallRequest, caller_id_user
from callbridge.calls.tracker import CallTracker
from callbridge.engine.events import Answered, Ended, EndReason, LegEndedError, Party
from callbridge.engine.leg import CallLeg
from callbridge.engine.routing import RoutingError, UserOffline
from callbridge.media.plane import MediaPortsExhausted

log = logging.getLogger(__name__)

RunnerFactory = Callable[[CallLeg, EngineDialer, CallRecordings], CallflowRunner]


def dial_target(address: str) -> DialTarget:
    """``from`` of a click-to-call: a SIP URI, a number or an extension."""
    if address.lower().startswith(("sip:", "sips:")):
        return DialTarget(kind="sip", address=address)
    if address.lstrip("+").isdigit():
        return DialTarget(kind="number", address=address)
    return DialTarget(kind="user", address=address)


def program_on_answer(request: OutboundCallRequest) -> Program:
    """What runs on the answered leg: digits first, then the application (or the bridge)."""
    verbs: list[Verb] = []
    if request.send_digits:
        verbs.append(SendDigits(digits=request.send_digits))
    if request.program is not None:  # an inline document
        verbs.extend(request.program.verbs)
        return Program(verbs=tuple(verbs), base_url=request.program.base_url)
    if request.url:
        verbs.append(Redirect(url=request.url, method=request.method))
        return Program(verbs=tuple(verbs), base_url=request.url)
    group = DialGroup(targets=(dial_target(request.from_),), ring_timeout=request.ring_timeout)
    verbs.append(Dial(groups=(group,), caller_id=caller_id_user(request.to)))
    return Program(verbs=tuple(verbs), base_url="")


class OutboundCall:
    """Owned by the call service; :meth:`run` returns when the call has ended and its last
    event is stored.  ``redirect`` and ``hang_up`` act on it while it runs."""

    def __init__(
        self,
        *,
        engine: Originator,
        request: OutboundCallRequest,
        tracker: CallTracker,
        recordings: CallRecordings,
        make_runner: RunnerFactory,
        make_dialer: Callable[[CallLeg], EngineDialer],
    ) -> None:
        self._engine = engine
        self._request = request
        self._tracker = tracker
        self._recordings = recordings
        self._make_runner = make_runner
        self._make_dialer = make_dialer
        self._leg: CallLeg | None = None
        self._runner: CallflowRunner | None = None
        self._recording: Path | None = None
        self._hangup_requested = False
        self._hangup_detail = ""
        self._answer_stored = asyncio.Event()
        self._dialled = asyncio.Event()

    @property
    def sid(self) -> str:
        return self._tracker.sid

    async def dialled(self) -> None:
        """Returns once the call's INVITE is on the wire, or it failed to go out."""
        await self._dialled.wait()

    async def run(self) -> None:
        try:
            leg: CallLeg | None = await self._originate()
        except (RoutingError, MediaPortsExhausted) as error:
            leg, failure = None, error
        finally:
            self._dialled.set()
        if leg is None:
            reason = EndReason.OFFLINE if isinstance(failure, UserOffline) else EndReason.FAILED
            await self._tracker.ended(Ended(reason, Party.LOCAL, None, str(failure)))
            return
        self._leg = leg
        async with asyncio.TaskGroup() as group:
            group.create_task(self._follow(leg), name=f"events {self.sid}")
            try:
                if not self._hangup_requested:
                    await self._drive(leg)
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
        return self._runner is not None and self._runner.replace(program)

    async def _originate(self) -> CallLeg:
        request = self._request
        return await self._engine.originate(
            request.to,
            caller_id=caller_id_user(request.from_),
            caller_name=request.caller_name,
            ring_timeout=request.ring_timeout,
        )

    async def _follow(self, leg: CallLeg) -> None:
        """Store each leg event in order; the recording is published before completed."""
        async for event in leg.events():
            if isinstance(event, Ended):
                await self._publish_recording(leg)
            await self._tracker.on_leg_event(event)
            if isinstance(event, Answered):
                self._answer_stored.set()

    async def _drive(self, leg: CallLeg) -> None:
        try:
            await leg.wait_answered()
        except LegEndedError:
            return
        # The answered event (and its callback) is durable before the application runs:
        # a crash from here on still owes, and sends, every event up to answered.
        await self._answer_stored.wait()
        if self._request.record:
            self._recording = self._recordings.new_path(leg.id)
            leg.record(self._recording)
        self._runner = self._make_runner(leg, self._make_dialer(leg), self._recordings)
        outcome = await self._runner.run(program_on_answer(self._request))
        while isinstance(outcome, Redirected):
            outcome = await self._runner.follow(outcome)
        await self._log_outcome(outcome)

    async def _log_outcome(self, outcome: Outcome) -> None:
        if isinstance(outcome, Failed):
            log.warning("call %s: application error: %s", self.sid, outcome.error)
            await self._tracker.note("error", {"message": outcome.error})
        elif isinstance(outcome, HungUp | Completed):
            log.debug("call %s: program ended: %r", self.sid, outcome)

    async def _publish_recording(self, leg: CallLeg) -> None:
        if self._recording is None:
            return
        path, self._recording = self._recording, None
        leg.stop_recording()
        stored = await self._recordings.publish(path)
        await self._tracker.recorded(stored.url)

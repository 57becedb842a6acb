"""EngineDialer: the call-flow Dial verb on the engine — groups in sequence, the targets of
a group at once, the first to answer bridged to the caller, the others cancelled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from callbridge.callflow.digits import Digits, plan_send_digits
from callbridge.callflow.ports import DialResult, LegPort
from callbridge.callflow.verbs import Dial, DialTarget
from callbridge.calls.ringer import GroupRinger, Originator
from callbridge.engine.events import EndReason, LegEndedError, LegState
from callbridge.engine.leg import CallLeg

__all__ = ["EngineDialer", "Originator", "TrackChild", "target_address"]


TrackChild = Callable[[CallLeg, DialTarget], Awaitable[None]]


def target_address(target: DialTarget) -> str:
    """What to hand :meth:`Engine.originate`: it routes numbers, extensions and URIs."""
    return target.address


class EngineDialer:
    """One per call: ``caller`` is the call's leg (the runner's leg); ``track_child`` starts
    the bookkeeping (CallSid, status callbacks) of each B leg the moment it exists."""

    def __init__(
        self,
        *,
        engine: Originator,
        caller: CallLeg,
        caller_id: str,
        track_child: TrackChild,
    ) -> None:
        self._engine = engine
        self._caller = caller
        self._caller_id = caller_id
        self._track_child = track_child

    async def dial(self, leg: LegPort, dial: Dial) -> DialResult:
        if leg is not self._caller:
            raise ValueError("this dialer serves one call leg only")
        ringer = GroupRinger(
            engine=self._engine,
            caller_id=dial.caller_id or self._caller_id,
            on_leg=self._track_child,
        )
        rung = await ringer.ring(
            dial.groups,
            give_up=self._caller.wait_ended,
            still_wanted=lambda: self._caller.ended is None,
        )
        if rung.leg is not None and rung.target is not None:
            return await self._connect(rung.leg, rung.target, dial)
        return DialResult(status=rung.status, duration=0.0, answered_target=None)

    async def _connect(self, callee: CallLeg, target: DialTarget, dial: Dial) -> DialResult:
        try:
            if self._caller.state is not LegState.ANSWERED:
                await self._caller.answer()
            if target.send_digits:
                await _send_digits(callee, target.send_digits)
        except LegEndedError:
            await _hang_up_all((self._caller, callee))
            return DialResult(status="canceled", duration=0.0, answered_target=target)
        self._engine.bridge(self._caller, callee)
        started = time.monotonic()
        await _until_one_ends(self._caller, callee, time_limit=dial.time_limit)
        duration = time.monotonic() - started
        await callee.hangup(EndReason.HUNG_UP)
        return DialResult(status="completed", duration=duration, answered_target=target)


async def _send_digits(leg: CallLeg, digits: str) -> None:
    for step in plan_send_digits(digits):
        if isinstance(step, Digits):
            await leg.send_dtmf(step.keys)
        else:
            await asyncio.sleep(step.seconds)


async def _until_one_ends(a: CallLeg, b: CallLeg, *, time_limit: float | None) -> None:
    waits = {asyncio.ensure_future(a.wait_ended()), asyncio.ensure_future(b.wait_ended())}
    try:
        await asyncio.wait(waits, timeout=time_limit, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in waits:
            future.cancel()


async def _hang_up_all(legs: Sequence[CallLeg]) -> None:
    await asyncio.gather(*(leg.hangup(EndReason.HUNG_UP) for leg in legs), return_exceptions=True)

"""EngineDialer: the call-flow Dial verb on the engine — groups in sequence, the targets of
a group at once, the first to answer bridged to the caller, the others cancelled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from callbridge.callflow.digits import Digits, plan_send_digits
from callbridge.callflow.ports import DialResult, LegPort
from callbridge.callflow.verbs import Dial, DialGroup, DialTarget
from callbridge.calls.destination_policy import DestinationPolicy, DestinationRefused
from callbridge.calls.ringer import GroupRinger, Originator
from callbridge.engine.events import EndReason, LegEndedError, LegState
from callbridge.engine.leg import CallLeg
from callbridge.vocabulary import CallStatus

__all__ = ["DialScreen", "EngineDialer", "Originator", "TrackChild", "target_address"]


TrackChild = Callable[[CallLeg, DialTarget], Awaitable[None]]
NoteRefused = Callable[[DestinationRefused], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class DialScreen:
    """The destination policy of the API key whose call runs the document (``api_key_id``
    ``None``: the operator's own, unchecked); each refusal is told to ``note``."""

    policy: DestinationPolicy
    api_key_id: str | None
    note: NoteRefused


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
        screen: DialScreen | None = None,
    ) -> None:
        self._engine = engine
        self._caller = caller
        self._caller_id = caller_id
        self._track_child = track_child
        self._screen = screen

    async def dial(self, leg: LegPort, dial: Dial) -> DialResult:
        if leg is not self._caller:
            raise ValueError("this dialer serves one call leg only")
        groups = await self._allowed_groups(dial)
        if not groups:
            return DialResult(status=CallStatus.FAILED, duration=0.0, answered_target=None)
        ringer = GroupRinger(
            engine=self._engine,
            caller_id=dial.caller_id or self._caller_id,
            on_leg=self._track_child,
        )
        rung = await ringer.ring(
            groups,
            give_up=self._caller.wait_ended,
            still_wanted=lambda: self._caller.ended is None,
        )
        if rung.leg is not None and rung.target is not None:
            return await self._connect(rung.leg, rung.target, dial)
        return DialResult(status=rung.status, duration=0.0, answered_target=None)

    async def _allowed_groups(self, dial: Dial) -> tuple[DialGroup, ...]:
        """The Dial's groups without the targets its key may not call (each refusal
        noted); none when its caller ID is refused.  The call's own caller ID (the number
        it called) may always be shown."""
        screen = self._screen
        if screen is None:
            return dial.groups
        try:
            if dial.caller_id is not None and dial.caller_id != self._caller_id:
                screen.policy.check_caller_id(screen.api_key_id, dial.caller_id)
        except DestinationRefused as refused:
            await screen.note(refused)
            return ()
        groups: list[DialGroup] = []
        for group in dial.groups:
            kept: list[DialTarget] = []
            for target in group.targets:
                try:
                    screen.policy.check_destination(screen.api_key_id, target.address)
                except DestinationRefused as refused:
                    await screen.note(refused)
                    continue
                kept.append(target)
            if kept:
                groups.append(DialGroup(targets=tuple(kept), ring_timeout=group.ring_timeout))
        return tuple(groups)

    async def _connect(self, callee: CallLeg, target: DialTarget, dial: Dial) -> DialResult:
        try:
            if self._caller.state is not LegState.ANSWERED:
                await self._caller.answer()
            if target.send_digits:
                await _send_digits(callee, target.send_digits)
        except LegEndedError:
            await _hang_up_all((self._caller, callee))
            return DialResult(status=CallStatus.CANCELED, duration=0.0, answered_target=target)
        self._engine.bridge(self._caller, callee)
        started = time.monotonic()
        await _until_one_ends(self._caller, callee, time_limit=dial.time_limit)
        duration = time.monotonic() - started
        await callee.hangup(EndReason.HUNG_UP)
        return DialResult(status=CallStatus.COMPLETED, duration=duration, answered_target=target)


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

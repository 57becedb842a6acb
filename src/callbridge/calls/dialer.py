"""EngineDialer: the call-flow Dial verb on the switch — groups in sequence, the targets of
a group at once (:class:`GroupRinger`), the caller hearing their progress or ringback
(:class:`CallerProgress`), the first to answer bridged to the caller (:func:`bridge`),
the others cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from callbridge.callflow.digits import Digits, plan_send_digits
from callbridge.callflow.ports import DialResult, LegPort
from callbridge.callflow.verbs import Dial, DialGroup, DialTarget
from callbridge.calls.destination_policy import DestinationPolicy, DestinationRefused
from callbridge.calls.switch.bridge import BridgeEnd, bridge
from callbridge.calls.switch.progress import CallerProgress
from callbridge.calls.switch.ringer import GroupRinger, Originator, Rung
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
        progress = CallerProgress(caller=self._caller, engine=self._engine)

        async def placed(child: CallLeg, target: DialTarget) -> None:
            progress.follow(child)
            await self._track_child(child, target)

        ringer = GroupRinger(
            engine=self._engine, caller_id=dial.caller_id or self._caller_id, on_leg=placed
        )
        rung = Rung(status=CallStatus.FAILED)
        try:
            rung = await ringer.ring(
                groups,
                give_up=self._caller.wait_ended,
                still_wanted=lambda: self._caller.ended is None,
            )
        finally:
            await progress.stop(winner=rung.leg)
        if rung.leg is not None and rung.target is not None:
            return await self._connect(rung.leg, rung.target, dial)
        return DialResult(
            status=rung.status,
            duration=0.0,
            answered_target=None,
            target_ends=tuple(end.reason for end in rung.target_ends),
        )

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
        """The caller stays when the callee hangs up or the time limit ends it: its
        program goes on with the next verb."""
        digits = target.send_digits

        async def send_digits() -> None:
            if digits:
                await _send_digits(callee, digits)

        bridged = await bridge(
            self._engine,
            self._caller,
            callee,
            time_limit=dial.time_limit,
            limit_detail="Dial timeLimit reached",
            caller_stays=True,
            before=send_digits,
        )
        if bridged.end is BridgeEnd.NOT_CONNECTED:
            return DialResult(status=CallStatus.CANCELED, duration=0.0, answered_target=target)
        return DialResult(
            status=CallStatus.COMPLETED, duration=bridged.seconds, answered_target=target
        )


async def _send_digits(leg: CallLeg, digits: str) -> None:
    for step in plan_send_digits(digits):
        if isinstance(step, Digits):
            await leg.send_dtmf(step.keys)
        else:
            await asyncio.sleep(step.seconds)

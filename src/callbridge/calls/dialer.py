"""EngineDialer: the call-flow Dial verb on the engine — groups in sequence, the targets of
a group at once, the first to answer bridged to the caller, the others cancelled."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from callbridge.callflow.digits import Digits, plan_send_digits
from callbridge.callflow.ports import DialResult, DialStatus, LegPort
from callbridge.callflow.verbs import Dial, DialGroup, DialTarget
from callbridge.engine.events import EndReason, LegEndedError, LegState
from callbridge.engine.leg import CallLeg
from callbridge.engine.routing import RoutingError

log = logging.getLogger(__name__)

# The status a Dial reports when no target answered, by how the last one ended.
_UNANSWERED = {
    EndReason.BUSY: "busy",
    EndReason.DECLINED: "busy",
    EndReason.NO_ANSWER: "no-answer",
    EndReason.CANCELLED: "no-answer",
}


class Originator(Protocol):
    """The part of the engine the dialer needs."""

    async def originate(
        self,
        to: str,
        *,
        caller_id: str = ...,
        caller_name: str | None = None,
        ring_timeout: float | None = None,
        headers: dict[str, str] | None = None,
        trunk: str | None = None,
    ) -> CallLeg: ...

    def bridge(self, a: CallLeg, b: CallLeg) -> None: ...


TrackChild = Callable[[CallLeg, DialTarget], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class _Answer:
    leg: CallLeg
    target: DialTarget


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
        status: DialStatus = "failed"
        for group in dial.groups:
            if self._caller.ended is not None:
                return DialResult(status="canceled", duration=0.0, answered_target=None)
            answer, status = await self._ring_group(group, dial)
            if answer is not None:
                return await self._connect(answer, dial)
        return DialResult(status=status, duration=0.0, answered_target=None)

    async def _ring_group(self, group: DialGroup, dial: Dial) -> tuple[_Answer | None, DialStatus]:
        ringing = await self._originate_all(group, dial)
        if not ringing:
            return None, "failed"
        answer: _Answer | None = None
        try:
            answer = await self._first_answer(ringing)
        finally:
            losers = [leg for leg in ringing if answer is None or leg is not answer.leg]
            await _cancel_all(losers)
        if answer is not None:
            return answer, "completed"
        if self._caller.ended is not None:
            return None, "canceled"
        return None, _group_status(list(ringing))

    async def _originate_all(self, group: DialGroup, dial: Dial) -> dict[CallLeg, DialTarget]:
        ringing: dict[CallLeg, DialTarget] = {}
        for target in group.targets:
            try:
                leg = await self._engine.originate(
                    target_address(target),
                    caller_id=dial.caller_id or self._caller_id,
                    ring_timeout=group.ring_timeout,
                )
            except RoutingError as error:
                log.info("dial target %s not routable: %s", target.address, error)
                continue
            ringing[leg] = target
            await self._track_child(leg, target)
        return ringing

    async def _first_answer(self, ringing: dict[CallLeg, DialTarget]) -> _Answer | None:
        """Wait until a target answers, every target has ended, or the caller has gone."""
        waits: dict[asyncio.Future[object], CallLeg] = {
            asyncio.ensure_future(leg.wait_answered()): leg for leg in ringing
        }
        caller_gone: asyncio.Future[object] = asyncio.ensure_future(self._caller.wait_ended())
        pending = {*waits, caller_gone}
        try:
            while waits.keys() & pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if caller_gone in done:
                    return None
                for future in done:
                    if future.exception() is None:
                        leg = waits[future]
                        return _Answer(leg=leg, target=ringing[leg])
            return None
        finally:
            for future in pending:
                future.cancel()

    async def _connect(self, answer: _Answer, dial: Dial) -> DialResult:
        callee = answer.leg
        try:
            if self._caller.state is not LegState.ANSWERED:
                await self._caller.answer()
            if answer.target.send_digits:
                await _send_digits(callee, answer.target.send_digits)
        except LegEndedError:
            await _hang_up_all((self._caller, callee))
            return DialResult(status="canceled", duration=0.0, answered_target=answer.target)
        self._engine.bridge(self._caller, callee)
        started = time.monotonic()
        await _until_one_ends(self._caller, callee, time_limit=dial.time_limit)
        duration = time.monotonic() - started
        await callee.hangup(EndReason.HUNG_UP)
        return DialResult(status="completed", duration=duration, answered_target=answer.target)


def _group_status(legs: Sequence[CallLeg]) -> DialStatus:
    """busy if any target was busy, else no-answer if any rang out, else failed."""
    reasons = [leg.ended.reason for leg in legs if leg.ended is not None]
    for wanted in ("busy", "no-answer"):
        if any(_UNANSWERED.get(reason) == wanted for reason in reasons):
            return "busy" if wanted == "busy" else "no-answer"
    return "failed"


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


async def _cancel_all(legs: Sequence[CallLeg]) -> None:
    """CANCEL the targets still ringing (an ended leg's hangup is a no-op)."""
    await asyncio.gather(*(leg.hangup(EndReason.CANCELLED) for leg in legs), return_exceptions=True)

"""The engine's first real behaviour: users calling extensions and numbers (a small B2BUA).

A registered user dialling another user's extension rings every phone of that user and
bridges the two legs; an authenticated user dialling a number goes out through the
default trunk; callers from outside may reach extensions only (no toll fraud).
"""

from __future__ import annotations

import asyncio
import logging

from callbridge.engine.engine import Engine, IncomingCall
from callbridge.engine.events import (
    EarlyMedia,
    Ended,
    EndReason,
    LegEndedError,
    LegEvent,
    Ringing,
    status_for_reason,
)
from callbridge.engine.leg import CallLeg
from callbridge.engine.originate_checks import usable_caller_id, usable_display_name
from callbridge.engine.routing import NoRoute, UserOffline

log = logging.getLogger(__name__)


class ExtensionDialer:
    """IncomingCallHandler that connects the caller to what they dialled."""

    def __init__(
        self, *, engine: Engine, ring_timeout: float = 30.0, max_duration: float | None = None
    ) -> None:
        """``max_duration``: a connected call is hung up once it has lasted this long."""
        self._engine = engine
        self._ring_timeout = ring_timeout
        self._max_duration = max_duration

    async def handle(self, call: IncomingCall) -> None:
        caller = call.leg
        if call.authenticated_user is None and not self._engine.router.is_extension(call.dialled):
            await caller.hangup(EndReason.DECLINED, 403)
            return
        try:
            callee = await self._engine.originate(
                call.dialled,
                caller_id=usable_caller_id(caller.caller.user),
                caller_name=usable_display_name(caller.caller.display_name),
                ring_timeout=self._ring_timeout,
            )
        except UserOffline:
            await caller.hangup(EndReason.OFFLINE, 480)
            return
        except NoRoute:
            await caller.hangup(EndReason.FAILED, 404)
            return
        await connect(self._engine, caller, callee, max_duration=self._max_duration)


async def connect(
    engine: Engine, caller: CallLeg, callee: CallLeg, *, max_duration: float | None = None
) -> None:
    """Ring the caller while the callee rings; answer and bridge when the callee answers;
    end each side when the other ends, or both once the call has lasted ``max_duration``."""
    loop = asyncio.get_running_loop()
    started = loop.time()

    def relay_progress(event: LegEvent) -> None:
        if isinstance(event, Ringing | EarlyMedia) and caller.ended is None:
            caller.tasks.spawn(caller.ring(), name=f"ring {caller.id}")

    unsubscribe = callee.subscribe(relay_progress)
    try:
        outcome = await _answer_or_caller_gone(caller, callee)
    finally:
        unsubscribe()
    if outcome == "caller_ended":
        await callee.hangup(EndReason.CANCELLED)
        return
    if outcome == "callee_failed":
        ended = callee.ended
        assert ended is not None
        code = status_for_reason(ended.reason) if ended.reason is not EndReason.FAILED else 503
        if ended.sip_code and 400 <= ended.sip_code < 700 and ended.reason is EndReason.FAILED:
            code = ended.sip_code
        await caller.hangup(ended.reason, code)
        return
    try:
        await caller.answer()
    except LegEndedError:
        await callee.hangup()
        return
    engine.bridge(caller, callee)
    left = None if max_duration is None else started + max_duration - loop.time()
    await _hang_up_together(caller, callee, time_limit=left, max_duration=max_duration)


async def _answer_or_caller_gone(caller: CallLeg, callee: CallLeg) -> str:
    answered = asyncio.ensure_future(callee.wait_answered())
    gone = asyncio.ensure_future(caller.wait_ended())
    try:
        await asyncio.wait({answered, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        answered.cancel()
        gone.cancel()
    if answered.done() and not answered.cancelled():
        return "callee_failed" if answered.exception() is not None else "answered"
    return "caller_ended"


async def _hang_up_together(
    a: CallLeg, b: CallLeg, *, time_limit: float | None, max_duration: float | None
) -> None:
    ended_a = asyncio.ensure_future(a.wait_ended())
    ended_b = asyncio.ensure_future(b.wait_ended())
    try:
        done, _ = await asyncio.wait(
            {ended_a, ended_b},
            timeout=None if time_limit is None else max(0.0, time_limit),
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        ended_a.cancel()
        ended_b.cancel()
    if not done:
        detail = f"max_duration reached: the call lasted {max_duration:g} s"
        log.warning("call %s <-> %s: %s", a.id, b.id, detail)
        await asyncio.gather(a.hangup(detail=detail), b.hangup(detail=detail))
        return
    first: Ended = (ended_a if ended_a in done else ended_b).result()
    other = b if ended_a in done else a
    log.debug("bridge ends: %s", first)
    await other.hangup(EndReason.HUNG_UP)

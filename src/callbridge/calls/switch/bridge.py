"""The switch's one bridge: connect two legs and end them together.

Answers the caller if it is not answered yet, connects the media both ways, ends each
side when the other ends (or, for a Dial, only the callee: the caller's program goes on),
and ends the callee — or both — once an optional time limit has passed.  Used by the Dial
verb, by extension dialling and by the two-leg callback.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from callbridge.engine.events import Ended, EndReason, LegEndedError, LegState
from callbridge.engine.leg import CallLeg

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[None]]


class Connector(Protocol):
    """The part of the engine that connects two legs' media."""

    def bridge(self, a: CallLeg, b: CallLeg) -> None: ...


class BridgeEnd(enum.Enum):
    """How a bridge ended."""

    NOT_CONNECTED = "not-connected"  # a leg ended before the media met
    CALLER_ENDED = "caller-ended"
    CALLEE_ENDED = "callee-ended"
    TIME_LIMIT = "time-limit"


@dataclass(frozen=True, kw_only=True)
class Bridged:
    """How the bridge ended, the seconds its media were connected, and the end of the leg
    that ended first (``None`` for the time limit)."""

    end: BridgeEnd
    seconds: float
    first: Ended | None = None

    @property
    def connected(self) -> bool:
        return self.end is not BridgeEnd.NOT_CONNECTED


async def bridge(
    engine: Connector,
    caller: CallLeg,
    callee: CallLeg,
    *,
    time_limit: float | None = None,
    limit_detail: str = "",
    caller_stays: bool = False,
    before: Step | None = None,
    on_bridged: Step | None = None,
) -> Bridged:
    """Bridge the answered ``callee`` to ``caller`` (answered here if need be) until one
    of them ends or ``time_limit`` seconds have passed.

    ``caller_stays``: the callee's end and the time limit end the callee only (a Dial:
    the caller's program goes on); otherwise both end together.  ``before`` runs once
    the caller is answered, before the media meet (digits to send to the callee);
    ``on_bridged`` right after they meet.  A leg ending before the media meet ends
    both (``NOT_CONNECTED``).  ``limit_detail`` is the cause the time limit's ends give.
    """
    if not await _prepared(caller, callee, before):
        first = caller.ended or callee.ended
        await _end_all((caller, callee), EndReason.HUNG_UP)
        return Bridged(end=BridgeEnd.NOT_CONNECTED, seconds=0.0, first=first)
    engine.bridge(caller, callee)
    loop = asyncio.get_running_loop()
    started = loop.time()
    if on_bridged is not None:
        await on_bridged()
    ended = await _first_end(caller, callee, time_limit=time_limit, started=started)
    seconds = loop.time() - started
    if ended is None:
        log.info("bridge %s <-> %s: time limit (%s)", caller.id, callee.id, limit_detail)
        legs = (callee,) if caller_stays else (caller, callee)
        await _end_all(legs, EndReason.HUNG_UP, detail=limit_detail)
        return Bridged(end=BridgeEnd.TIME_LIMIT, seconds=seconds)
    first_leg, first = ended
    if first_leg is caller:
        await callee.hangup(EndReason.HUNG_UP)
        return Bridged(end=BridgeEnd.CALLER_ENDED, seconds=seconds, first=first)
    if not caller_stays:
        await caller.hangup(EndReason.HUNG_UP)
    return Bridged(end=BridgeEnd.CALLEE_ENDED, seconds=seconds, first=first)


async def _prepared(caller: CallLeg, callee: CallLeg, before: Step | None) -> bool:
    """The caller answered and ``before`` done, both legs still up."""
    try:
        if caller.state is not LegState.ANSWERED:
            await caller.answer()
        if before is not None:
            await before()
    except LegEndedError:
        return False
    return caller.ended is None and callee.ended is None


async def _first_end(
    caller: CallLeg, callee: CallLeg, *, time_limit: float | None, started: float
) -> tuple[CallLeg, Ended] | None:
    """The leg that ended first and how, or ``None`` once ``time_limit`` has passed."""
    waits = {
        asyncio.ensure_future(caller.wait_ended()): caller,
        asyncio.ensure_future(callee.wait_ended()): callee,
    }
    left = None
    if time_limit is not None:
        left = max(0.0, started + time_limit - asyncio.get_running_loop().time())
    try:
        done, _ = await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in waits:
            future.cancel()
    if not done:
        return None
    future = next(iter(done))
    return waits[future], future.result()


async def _end_all(legs: tuple[CallLeg, ...], reason: EndReason, *, detail: str = "") -> None:
    await asyncio.gather(
        *(leg.hangup(reason, detail=detail) for leg in legs), return_exceptions=True
    )

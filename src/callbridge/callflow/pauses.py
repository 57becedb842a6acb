"""Time on a leg that may end meanwhile: a pause cut short by the hang-up, and sending digits
with their ``w`` waits (:func:`callbridge.callflow.digits.plan_send_digits`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from callbridge.callflow.digits import Wait, plan_send_digits
from callbridge.callflow.ports import LegPort

Sleep = Callable[[float], Awaitable[None]]


async def sleep_unless_ended(leg: LegPort, seconds: float, *, sleep: Sleep) -> None:
    """``seconds`` pass, or the leg ends, whichever comes first."""
    if seconds <= 0:
        return
    sleeper: asyncio.Future[Any] = asyncio.ensure_future(sleep(seconds))
    ended: asyncio.Future[Any] = asyncio.ensure_future(leg.wait_ended())
    try:
        await asyncio.wait({sleeper, ended}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        ended.cancel()
        await asyncio.gather(sleeper, ended, return_exceptions=True)


async def send_digits(leg: LegPort, digits: str, *, sleep: Sleep) -> None:
    """Each key as RFC 4733 events, with a pause for every ``w`` (half a second)."""
    for step in plan_send_digits(digits):
        if isinstance(step, Wait):
            await sleep_unless_ended(leg, step.seconds, sleep=sleep)
        else:
            await leg.send_dtmf(step.keys)

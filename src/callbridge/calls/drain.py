"""A graceful shutdown (SIGTERM, SIGINT): stop taking calls, let the live ones finish for a
while, then end every one that is left — each leg gets its BYE (or CANCEL) and each call
its ``completed`` event and callback with its real duration, in this run rather than at
the next start.

:class:`DrainGate` is the :class:`Admission` that refuses new calls (HTTP 503 with
Retry-After) once :meth:`DrainGate.close` was called; the engine answers new INVITEs 503
itself (:class:`CallEngineDrain`).  :func:`drain` runs the steps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping, Sized
from typing import Any, Protocol

from callbridge.calls.admission import Admission, Permit
from callbridge.calls.errors import ServerDraining
from callbridge.engine.events import Ended, EndReason

log = logging.getLogger(__name__)

SHUTDOWN_CAUSE = "server shutting down"
POLL_INTERVAL = 0.1
HANGUP_WAIT = 10.0  # for the BYEs' answers and the completed events to be stored


class DrainGate:
    """:class:`Admission` that hands calls to ``inner`` until closed, then refuses them."""

    def __init__(self, *, inner: Admission) -> None:
        self._inner = inner
        self._retry_after: float | None = None

    @property
    def closed(self) -> bool:
        return self._retry_after is not None

    def close(self, *, retry_after: float) -> None:
        self._retry_after = retry_after

    def admit(self, api_key_id: str | None) -> Permit:
        if self._retry_after is not None:
            raise ServerDraining(
                "the server is shutting down and takes no new calls; try again later",
                retry_after=self._retry_after,
            )
        return self._inner.admit(api_key_id)


class LiveCallRegistry(Sized, Protocol):
    """The calls the APIs run (:class:`callbridge.calls.live.LiveCalls`)."""

    async def hang_up_all(self, detail: str) -> None: ...


class Leg(Protocol):
    @property
    def ended(self) -> Ended | None: ...

    async def hangup(
        self, reason: EndReason = EndReason.HUNG_UP, sip_code: int | None = None, detail: str = ""
    ) -> Ended: ...


class CallEngineDrain(Protocol):
    """The engine as a shutdown needs it: it refuses new INVITEs (503 with Retry-After)
    and has its legs (calls between phones included)."""

    def refuse_new_calls(self, *, retry_after: float) -> None: ...

    @property
    def legs(self) -> Mapping[str, Leg]: ...


def live_legs(engine: CallEngineDrain) -> list[Leg]:
    return [leg for leg in engine.legs.values() if leg.ended is None]


async def hang_up_legs(engine: CallEngineDrain, detail: str) -> None:
    """BYE (or CANCEL, or reject) every live leg of the engine."""
    legs = live_legs(engine)
    await asyncio.gather(*(leg.hangup(detail=detail) for leg in legs), return_exceptions=True)


async def drain(
    *,
    gate: DrainGate,
    engine: CallEngineDrain,
    calls: LiveCallRegistry,
    seconds: float,
    hurry: asyncio.Event | None = None,
) -> None:
    """Refuse new calls; wait up to ``seconds`` (or until ``hurry`` is set: a second
    signal) for the live calls to end; hang up what is left and wait for their ends to be
    stored."""
    retry_after = max(seconds, 1.0)
    gate.close(retry_after=retry_after)
    engine.refuse_new_calls(retry_after=retry_after)
    live = len(calls) + len(live_legs(engine))
    log.warning("shutting down: %d live call(s) and leg(s) get %g s to finish", live, seconds)
    if not await _until_idle(calls, engine, seconds, hurry):
        left = len(calls) + len(live_legs(engine))
        log.warning("shutting down: hanging up %d call(s) and leg(s) still live", left)
        # The APIs' calls first (each ends as its service knows how: a callback ends both
        # legs), then whatever legs are left (calls between phones).
        await _bounded(calls.hang_up_all(SHUTDOWN_CAUSE))
        await _bounded(hang_up_legs(engine, SHUTDOWN_CAUSE))
        if not await _until_idle(calls, engine, HANGUP_WAIT, None):
            log.error("shutting down: %d call(s) did not end", len(calls))
    log.info("shutting down: no call is live")


async def _bounded(hang_ups: Coroutine[Any, Any, None]) -> None:
    try:
        async with asyncio.timeout(HANGUP_WAIT):
            await hang_ups
    except TimeoutError:
        log.error("shutting down: hang-ups took more than %g s", HANGUP_WAIT)


async def _until_idle(
    calls: LiveCallRegistry, engine: CallEngineDrain, seconds: float, hurry: asyncio.Event | None
) -> bool:
    """True once no call nor leg is live; False after ``seconds`` or once hurried."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while len(calls) or live_legs(engine):
        if loop.time() >= deadline or (hurry is not None and hurry.is_set()):
            return False
        await asyncio.sleep(POLL_INTERVAL)
    return True

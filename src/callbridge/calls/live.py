"""LiveCalls: every call this node runs that the API lists as live, by CallSid — outbound
calls, their Dial legs and both legs of two-leg callbacks — so each can be hung up through
the API, each is ended once it has lasted ``max_duration``, and a shutdown can wait for
them and end what is left.

A two-leg callback is registered under both its legs' sids: hanging up either ends the
callback (a bridged leg alone would end the other anyway); redirecting one reaches that
leg's own application while it runs, before the bridge.  A Dial leg hung up ends only
itself; the parent's application goes on after its ``<Dial>``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from callbridge.callflow.verbs import Program
from callbridge.engine.tasks import TaskOwner

log = logging.getLogger(__name__)

DEFAULT_MAX_DURATION = 4 * 3600.0


class LiveCall(Protocol):
    async def hang_up(self, detail: str = "") -> None:
        """End the call; ``detail`` is the cause its legs' completed events give."""
        ...

    def redirect(self, url: str, method: str) -> bool:
        """Run the document at ``url`` instead; False when the call runs no application."""
        ...

    def run_program(self, program: Program) -> bool:
        """Run the inline document ``program`` instead (as :meth:`redirect`)."""
        ...


def max_duration_cause(seconds: float) -> str:
    return f"max_duration reached: the call lasted {seconds:g} s"


class LiveCalls:
    """The registry; :meth:`close` ends its timers and the hang-ups they started."""

    def __init__(self, *, max_duration: float = DEFAULT_MAX_DURATION) -> None:
        if max_duration <= 0:
            raise ValueError("max_duration must be positive")
        self._max_duration = max_duration
        self._calls: dict[str, LiveCall] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks = TaskOwner(name="live calls")
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, sid: object) -> bool:
        return sid in self._calls

    def get(self, sid: str) -> LiveCall | None:
        return self._calls.get(sid)

    def add(self, sid: str, call: LiveCall) -> None:
        """``call`` is live under ``sid`` until :meth:`remove`; it is hung up once it has
        lasted ``max_duration``."""
        self._calls[sid] = call
        loop = asyncio.get_running_loop()
        self._timers[sid] = loop.call_later(self._max_duration, self._expire, sid, call)

    def remove(self, sid: str) -> None:
        self._calls.pop(sid, None)
        timer = self._timers.pop(sid, None)
        if timer is not None:
            timer.cancel()
        self._changed.set()

    async def wait_empty(self, timeout: float) -> bool:
        """True once no call is live; False if some still are after ``timeout`` s."""
        try:
            async with asyncio.timeout(timeout):
                while self._calls:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    async def hang_up_all(self, detail: str) -> None:
        """Hang up every live call (each once, whatever sids it has) with ``detail``."""
        calls = list({id(call): call for call in self._calls.values()}.values())
        results = await asyncio.gather(
            *(call.hang_up(detail) for call in calls), return_exceptions=True
        )
        for call, result in zip(calls, results, strict=True):
            if isinstance(result, Exception):
                log.error("hanging up %r failed", call, exc_info=result)

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await self._tasks.close()

    def _expire(self, sid: str, call: LiveCall) -> None:
        self._timers.pop(sid, None)
        if self._calls.get(sid) is not call:
            return
        log.warning("call %s ended: it lasted max_duration (%g s)", sid, self._max_duration)
        cause = max_duration_cause(self._max_duration)
        self._tasks.spawn(call.hang_up(cause), name=f"max duration {sid}")

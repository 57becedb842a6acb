"""Load shedding: new calls are refused while the event loop runs late.

One event loop runs the SIP transactions, the media clock, the HTTP API and the webhooks.
When more calls are asked for than it can serve, every callback waits longer, and first to
suffer are the SIP responses waiting in the socket: past T1 (500 ms, RFC 3261 §17.1.1.2) the
far end retransmits, and once the socket's buffer is full it drops them, so a call the far
end answered is never acknowledged.  Refusing new calls early (HTTP 503 with Retry-After)
keeps the calls already admitted working.

:class:`LoopLag` measures how late the loop is: a task sleeps ``interval`` and notes how
much later than asked it woke.  :class:`OverloadGuard` refuses new calls while the worst lag
of the last ``window`` seconds (or the lag of a wake-up that is overdue now) is above its
limit, and otherwise hands the call to the per-key limits.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol

from callbridge.calls.admission import Admission, Permit
from callbridge.calls.errors import ServerOverloaded

LAG_INTERVAL = 0.05
LAG_WINDOW = 0.5
RETRY_AFTER = 1.0


class LagReading(Protocol):
    @property
    def lag(self) -> float: ...


class LoopLag:
    """The event loop's lateness, in seconds: the worst of the last ``window`` seconds.

    :meth:`run` samples it (an owner's task); :meth:`note` takes one sample, so the
    arithmetic can be tested without a loop."""

    def __init__(self, *, interval: float = LAG_INTERVAL, window: float = LAG_WINDOW) -> None:
        self._interval = interval
        self._window = window
        self._samples: deque[tuple[float, float]] = deque()  # (noted at, lag)
        self._due: float | None = None  # when the sampling task should wake next
        self._since = float("-inf")  # lateness from before this is not the load's (start-up)

    @property
    def lag(self) -> float:
        return self.lag_at(asyncio.get_running_loop().time())

    def lag_at(self, now: float) -> float:
        """The worst lag noted in the window before ``now``, or the lateness of a wake-up
        that was due before ``now`` and has not happened (the loop is busy right now)."""
        while self._samples and self._samples[0][0] < now - self._window:
            self._samples.popleft()
        worst = max((lag for _, lag in self._samples), default=0.0)
        overdue = now - max(self._due, self._since) if self._due is not None else 0.0
        return max(worst, overdue)

    def forget(self, *, now: float) -> None:
        """Lateness up to ``now`` is not load: the server's own start-up (building its
        services runs the loop late for a few hundred ms), which must not refuse the first
        calls after it says it is up."""
        self._samples.clear()
        self._since = now

    def expect(self, due: float) -> None:
        """The sampling task will wake at ``due``."""
        self._due = due

    def note(self, lag: float, *, at: float) -> None:
        """The sampling task woke at ``at``, ``lag`` seconds after it was due."""
        self._due = None
        lag = min(lag, at - self._since)  # only the part of the wait after forget()
        if lag > 0.0:
            self._samples.append((at, lag))

    async def run(self) -> None:
        """Sample until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self._interval
            self.expect(due)
            await asyncio.sleep(self._interval)
            now = loop.time()
            self.note(now - due, at=now)


class OverloadGuard:
    """:class:`Admission` that raises :class:`ServerOverloaded` while ``lag`` is above
    ``max_lag`` seconds; otherwise ``inner`` (the per-key limits) decides."""

    def __init__(
        self,
        *,
        inner: Admission,
        lag: LagReading,
        max_lag: float,
        retry_after: float = RETRY_AFTER,
    ) -> None:
        self._inner = inner
        self._lag = lag
        self._max_lag = max_lag
        self._retry_after = retry_after

    def admit(self, api_key_id: str | None) -> Permit:
        lag = self._lag.lag
        if lag > self._max_lag:
            raise ServerOverloaded(
                f"the server is overloaded (its event loop runs {lag * 1000:.0f} ms late);"
                " try again later",
                retry_after=self._retry_after,
            )
        return self._inner.admit(api_key_id)

"""The shared 20 ms media clock: one task paces every playback, DTMF sender and recorder.

RTP audio is sent one packetisation interval apart (RFC 3551 §4.2: 20 ms default for G.711).
Ticks follow an absolute schedule ``start + n * interval`` read from ``loop.time()``, so
sleep overshoot never accumulates into drift.  When the loop falls behind by more than one
tick the clock skips ahead to the current slot instead of firing a burst, and counts the
skipped ticks.  The task runs only while something is subscribed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from callbridge.codecs.formats import FRAME_SECONDS

TickCallback = Callable[[], None]

log = logging.getLogger(__name__)


class ClockSubscription:
    """Handle returned by :meth:`MediaClock.subscribe`; ``close()`` stops the ticks."""

    __slots__ = ("_callback", "_clock")

    def __init__(self, *, clock: MediaClock, callback: TickCallback) -> None:
        self._clock: MediaClock | None = clock
        self._callback = callback

    @property
    def active(self) -> bool:
        return self._clock is not None

    def close(self) -> None:
        if self._clock is not None:
            self._clock._remove(self)
            self._clock = None

    def fire(self) -> None:
        self._callback()


class MediaClock:
    """One asyncio task ticking every ``interval`` seconds for all subscribers."""

    def __init__(self, *, interval: float = FRAME_SECONDS) -> None:
        self._interval = interval
        self._subscribers: dict[ClockSubscription, None] = {}
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0
        self.skipped = 0

    @property
    def interval(self) -> float:
        return self._interval

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def subscribe(self, callback: TickCallback) -> ClockSubscription:
        """Call ``callback`` on every tick from the next one on, until the handle is closed."""
        subscription = ClockSubscription(clock=self, callback=callback)
        self._subscribers[subscription] = None
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="media-clock")
        return subscription

    async def close(self) -> None:
        """Drop all subscribers and stop the task."""
        for subscription in list(self._subscribers):
            subscription.close()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _remove(self, subscription: ClockSubscription) -> None:
        self._subscribers.pop(subscription, None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        slot = 1
        while self._subscribers:
            await asyncio.sleep(start + slot * self._interval - loop.time())
            late_slots = int((loop.time() - start) / self._interval) - slot
            if late_slots > 1:
                self.skipped += late_slots
                slot += late_slots
            self._fire()
            slot += 1

    def _fire(self) -> None:
        self.ticks += 1
        for subscription in tuple(self._subscribers):
            if subscription.active:
                try:
                    subscription.fire()
                except Exception:
                    log.exception("media clock subscriber failed; unsubscribed")
                    subscription.close()

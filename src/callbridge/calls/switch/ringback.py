"""Ringback: the tone played to a caller whose leg already carries media (answered, or in
early media) while the switch rings its targets.

The tone is the North-American audible ringing tone of ITU-T E.180 (Supplement 2, United
States entry; ANSI T1.401): 440 Hz + 480 Hz together, 2 s on, 4 s off, generated frame by
frame (:class:`callbridge.media.sources.ToneSource`), never read from a file.  A caller
whose leg carries no media yet gets a 180 instead and its own phone plays ringback.
"""

from __future__ import annotations

import asyncio
import contextlib

from callbridge.engine.events import LegEndedError
from callbridge.engine.leg import CallLeg
from callbridge.engine.tasks import TaskOwner
from callbridge.media.plane import AudioSource
from callbridge.media.sources import ToneSource

RINGBACK_HZ = (440.0, 480.0)
RINGBACK_CADENCE = (2.0, 4.0)  # seconds on, seconds off
RINGBACK_LEVEL = 0.3  # peak of the two tones together, as a fraction of full scale


def ringback_tone() -> AudioSource:
    """The endless, cadenced ringback tone."""
    return ToneSource(
        frequencies=RINGBACK_HZ, duration_s=None, cadence=RINGBACK_CADENCE, level=RINGBACK_LEVEL
    )


class Ringback:
    """Plays :func:`ringback_tone` to ``leg`` from :meth:`start` until :meth:`stop` (or a
    bridge, or the leg's end); the playing task belongs to ``tasks``."""

    def __init__(self, *, leg: CallLeg, tasks: TaskOwner) -> None:
        self._leg = leg
        self._tasks = tasks
        self._task: asyncio.Task[None] | None = None

    @property
    def playing(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the tone (a no-op while it plays or once the leg has ended)."""
        if self.playing or self._leg.ended is not None:
            return
        self._task = self._tasks.spawn(_play(self._leg), name=f"ringback {self._leg.id}")

    def halt(self) -> None:
        """Stop the tone at once (the next media tick sends none of it)."""
        task = self._task
        if task is not None and not task.done():
            self._leg.stop_playback()
            task.cancel()

    async def stop(self) -> None:
        """:meth:`halt`, and wait until the playing task is gone."""
        self.halt()
        task, self._task = self._task, None
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)


async def _play(leg: CallLeg) -> None:
    """The tone until stopped; the leg ending (even before it starts) is no failure."""
    with contextlib.suppress(LegEndedError):
        await leg.play(ringback_tone())

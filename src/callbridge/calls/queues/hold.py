"""What a waiting caller hears: music on hold, interrupted every
``announce_position_every`` seconds (and once on joining) by "You are caller number N",
spoken with espeak-ng through the leg's Say path.  The music goes on where it stopped.
Or, with a wait (``<Enqueue waitUrl>``), the wait's documents; the music when they fail."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from callbridge.calls.queues.ports import HoldMusic, WaitAudio
from callbridge.calls.switch.ringback import ringback_tone
from callbridge.engine.events import LegEndedError
from callbridge.engine.leg import CallLeg
from callbridge.media.plane import AudioSource

log = logging.getLogger(__name__)


def position_sentence(position: int) -> str:
    return f"You are caller number {position}."


async def hold_or_wait(
    leg: CallLeg,
    *,
    wait: WaitAudio | None,
    params: Callable[[], Mapping[str, str]],
    music: HoldMusic | None,
    every: float,
    position: Callable[[], int],
) -> bool:
    """Until cancelled or the leg ends (False), or the wait's ``<Leave/>`` (True)."""
    if wait is not None:
        end = await wait.play(params)
        if end == "leave":
            return True
        if end == "hangup" or leg.ended is not None:
            return False
    await hold(leg, music=music, every=every, position=position)
    return False


def left_queue(music: asyncio.Task[bool]) -> bool:
    """The caller's :func:`hold_or_wait` ended with the wait's ``<Leave/>``."""
    return music.done() and not music.cancelled() and music.exception() is None and music.result()


async def stop_hold(leg: CallLeg, music: asyncio.Task[bool]) -> None:
    """Stops what the caller hears (its :func:`hold_or_wait` task) and waits for it."""
    if not music.done():
        leg.stop_playback()
        music.cancel()
    await asyncio.gather(music, return_exceptions=True)


async def hold(
    leg: CallLeg,
    *,
    music: HoldMusic | None,
    every: float,
    position: Callable[[], int],
) -> None:
    """Until cancelled or the leg ends.  Without hold music wired, the ringback tone."""
    source: AudioSource = music.source() if music is not None else ringback_tone()
    with contextlib.suppress(LegEndedError):
        while leg.ended is None:
            if every > 0:
                await leg.say(position_sentence(position()))
            await _play_for(leg, source, every if every > 0 else None)


async def _play_for(leg: CallLeg, source: AudioSource, seconds: float | None) -> None:
    playing = asyncio.ensure_future(leg.play(source))
    try:
        done, _ = await asyncio.wait({playing}, timeout=seconds)
        if playing in done and seconds is None:
            await leg.wait_ended()  # the music ended (or was stopped): wait quietly
    finally:
        if not playing.done():
            leg.stop_playback()
            playing.cancel()
            await asyncio.gather(playing, return_exceptions=True)

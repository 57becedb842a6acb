"""What the caller hears before an answer: announcements and music on hold, in early
media (183 with our SDP), so a caller who hangs up before a target answers is never
answered (200) and pays nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from callbridge.calls.control.ports import Announcements, HoldMusic
from callbridge.engine.events import LegEndedError, LegState
from callbridge.engine.leg import CallLeg
from callbridge.media.plane import AudioSource

log = logging.getLogger(__name__)

_CARRIES_MEDIA = (LegState.ANSWERED, LegState.EARLY_MEDIA)


async def open_early_media(leg: CallLeg) -> bool:
    """183 with our SDP unless media flows already; whether the caller can hear us now."""
    if leg.ended is not None:
        return False
    if leg.state not in _CARRIES_MEDIA:
        try:
            await leg.early_media()
        except (LegEndedError, RuntimeError) as error:
            log.debug("no early media for %s: %s", leg.id, error)
            return False
    return leg.ended is None and leg.state in _CARRIES_MEDIA


async def play_announcement(
    leg: CallLeg, announcements: Announcements | None, announcement_id: str
) -> str | None:
    """Play the announcement to the caller (in early media); ``None``, or why it did not."""
    if announcements is None:
        return "no announcements are configured"
    try:
        source = await announcements.source(announcement_id)
    except LookupError:  # none, or deleted (on any node)
        return f"unknown announcement {announcement_id!r}"
    except (OSError, ValueError, RuntimeError) as error:
        log.warning("announcement %r cannot be played: %s", announcement_id, error)
        return f"announcement {announcement_id!r} cannot be played"
    if not await open_early_media(leg):
        return "the caller left"
    with contextlib.suppress(LegEndedError):
        await leg.play(source)
    return None


class MusicOnHold:
    """Music to the caller from :meth:`start` until :meth:`stop` (or the leg's end)."""

    def __init__(self, *, leg: CallLeg, music: HoldMusic) -> None:
        self._leg = leg
        self._music = music
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> bool:
        if not await open_early_media(self._leg):
            return False
        self._task = self._leg.tasks.spawn(
            _play(self._leg, self._music.source()), name=f"music on hold {self._leg.id}"
        )
        return True

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        if not task.done():
            self._leg.stop_playback()
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _play(leg: CallLeg, source: AudioSource) -> None:
    with contextlib.suppress(LegEndedError):
        await leg.play(source)

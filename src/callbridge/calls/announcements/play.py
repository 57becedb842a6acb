"""``<Play>announcement:ID</Play>``: a voice document plays a library announcement by id.

Wraps the Play verb's audio loader: a reference ``announcement:ID`` comes from the
:class:`AnnouncementLibrary`, anything else (an http(s) URL) from the wrapped loader."""

from __future__ import annotations

from callbridge.callflow.errors import FetchError
from callbridge.callflow.ports import AudioLoader
from callbridge.calls.announcements.errors import AnnouncementUnplayable, UnknownAnnouncement
from callbridge.calls.announcements.ids import SCHEME
from callbridge.calls.announcements.library import AnnouncementLibrary
from callbridge.media.plane import AudioSource


class AnnouncementAudio:
    def __init__(self, *, inner: AudioLoader, library: AnnouncementLibrary) -> None:
        self._inner = inner
        self._library = library

    async def load(self, url: str) -> AudioSource:
        if not url.startswith(SCHEME):
            return await self._inner.load(url)
        try:
            return await self._library.source(url.removeprefix(SCHEME))
        except (UnknownAnnouncement, AnnouncementUnplayable) as exc:
            raise FetchError(str(exc)) from exc

    def beep(self) -> AudioSource:
        return self._inner.beep()

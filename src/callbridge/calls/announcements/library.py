"""AnnouncementLibrary: announcement ids to 8 kHz audio, for every part of the server that
plays prompts (call control, queues, voicemail, ``<Play>announcement:ID</Play>``).

Configured announcements (``[[announcements]]``) are text spoken with espeak-ng or an
audio file; both are rendered once (:meth:`AnnouncementLibrary.prepare` does all of them
when the server starts) and kept in memory as PCM.  Uploaded ones (the media library API)
come from :class:`UploadedAudio` (``SharedUploads``: the database, cached as 8 kHz WAV
files on this node), looked up each time they play.  Both share one id space."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from callbridge.calls.announcements.errors import AnnouncementUnplayable, UnknownAnnouncement
from callbridge.codecs.formats import SAMPLE_RATE
from callbridge.engine.leg import DEFAULT_VOICE
from callbridge.media.audiofile import BadAudio, decode_for_telephony
from callbridge.media.plane import AudioSource
from callbridge.media.sources import PcmSource
from callbridge.media.tts import TtsError, UnknownVoice


class UploadedAudio(Protocol):
    """Uploaded announcements (``SharedUploads``)."""

    def known(self, announcement_id: str) -> bool: ...

    async def path_of(self, announcement_id: str) -> Path | None: ...


class SpeechSynthesizer(Protocol):
    """Text to an 8 kHz WAV file (``callbridge.media.tts.Tts``)."""

    async def synthesize(self, text: str, voice: str) -> Path: ...


@dataclass(frozen=True, kw_only=True)
class ConfiguredAnnouncement:
    """``text`` (in ``voice``, else the Say verb's default) or ``file``."""

    id: str
    text: str | None = None
    voice: str | None = None
    file: Path | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.file is None):
            raise ValueError(f"announcement {self.id!r} needs exactly one of text or file")


class AnnouncementLibrary:
    def __init__(
        self,
        *,
        configured: Sequence[ConfiguredAnnouncement],
        tts: SpeechSynthesizer,
        default_voice: str = DEFAULT_VOICE,
    ) -> None:
        self._configured = {each.id: each for each in configured}
        if len(self._configured) != len(configured):
            raise ValueError("announcement ids must be unique")
        self._tts = tts
        self._default_voice = default_voice
        self._rendered: dict[str, bytes] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._uploads: UploadedAudio | None = None

    def use_uploads(self, uploads: UploadedAudio) -> None:
        """Play uploaded announcements from ``uploads`` (the media library's)."""
        self._uploads = uploads

    def exists(self, announcement_id: str) -> bool:
        """Configured, or an upload this node last saw stored (another node may have
        deleted it since: :meth:`source` is what decides)."""
        if announcement_id in self._configured:
            return True
        return self._uploads is not None and self._uploads.known(announcement_id)

    def configured(self, announcement_id: str) -> ConfiguredAnnouncement | None:
        return self._configured.get(announcement_id)

    def configured_ids(self) -> list[str]:
        return sorted(self._configured)

    def voice_of(self, announcement: ConfiguredAnnouncement) -> str | None:
        """The voice its text is spoken in (None for a file)."""
        if announcement.text is None:
            return None
        return announcement.voice or self._default_voice

    def rendered_seconds(self, announcement_id: str) -> float:
        """A configured announcement's length once rendered (0 before)."""
        return round(len(self._rendered.get(announcement_id, b"")) / (2 * SAMPLE_RATE), 3)

    async def prepare(self) -> None:
        """Render every configured announcement now (the server's start); raises
        :class:`AnnouncementUnplayable` naming the first that fails."""
        for announcement_id in self._configured:
            await self.pcm(announcement_id)

    async def source(self, announcement_id: str) -> AudioSource:
        """Its audio from the start, 8 kHz; raises :class:`UnknownAnnouncement` or
        :class:`AnnouncementUnplayable`."""
        return PcmSource(pcm=await self.pcm(announcement_id))

    async def pcm(self, announcement_id: str) -> bytes:
        """Its audio as 16-bit mono PCM at 8 kHz."""
        configured = self._configured.get(announcement_id)
        if configured is not None:
            return await self._rendered_once(configured)
        if self._uploads is None:
            raise UnknownAnnouncement(announcement_id)
        path = await self._uploads.path_of(announcement_id)
        if path is None:
            raise UnknownAnnouncement(announcement_id)
        try:
            return await asyncio.to_thread(decode_for_telephony, path)
        except (BadAudio, OSError) as exc:
            if not path.exists():  # deleted while it was asked for
                raise UnknownAnnouncement(announcement_id) from exc
            raise AnnouncementUnplayable(f"announcement {announcement_id!r}: {exc}") from exc

    async def _rendered_once(self, announcement: ConfiguredAnnouncement) -> bytes:
        rendered = self._rendered.get(announcement.id)
        if rendered is not None:
            return rendered
        async with self._locks.setdefault(announcement.id, asyncio.Lock()):
            rendered = self._rendered.get(announcement.id)
            if rendered is None:
                rendered = await self._render(announcement)
                self._rendered[announcement.id] = rendered
        return rendered

    async def _render(self, announcement: ConfiguredAnnouncement) -> bytes:
        name = f"announcement {announcement.id!r}"
        try:
            if announcement.text is not None:
                voice = self.voice_of(announcement) or self._default_voice
                path = await self._tts.synthesize(announcement.text, voice)
            else:
                assert announcement.file is not None
                path = announcement.file
            return await asyncio.to_thread(decode_for_telephony, path)
        except (BadAudio, OSError) as exc:
            raise AnnouncementUnplayable(f"{name}: {exc}") from exc
        except UnknownVoice as exc:
            raise AnnouncementUnplayable(f"{name}: espeak-ng has no voice {exc}") from exc
        except TtsError as exc:
            raise AnnouncementUnplayable(f"{name}: speech failed: {exc}") from exc

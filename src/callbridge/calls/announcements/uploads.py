"""MediaLibrary: the media library API's side of announcements: uploads (audio of any
format the Play verb reads, or text spoken by espeak-ng) stored as 8 kHz mono WAV under
one folder, their metadata in the database, listed together with the configured ones.

An upload is decoded before anything is written; its WAV is written under a temporary
name and renamed to ``<id>.wav``; a failure at any step removes what it wrote.  An id is
reserved while its upload runs, so two uploads of one id cannot both succeed."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from callbridge.calls.announcements.errors import (
    AnnouncementConfigured,
    AnnouncementExists,
    InvalidAnnouncement,
    UnknownAnnouncement,
)
from callbridge.calls.announcements.ids import ID_RULE, is_announcement_id
from callbridge.calls.announcements.library import AnnouncementLibrary, SpeechSynthesizer
from callbridge.codecs.formats import SAMPLE_RATE
from callbridge.engine.leg import DEFAULT_VOICE
from callbridge.media.audiofile import BadAudio, decode_for_telephony
from callbridge.media.tts import TtsError, UnknownVoice
from callbridge.media.wavfile import wav_header, write_wav
from callbridge.store.announcements import AnnouncementRecord, DuplicateAnnouncement
from callbridge.store.clock import Clock

log = logging.getLogger(__name__)

MAX_UPLOAD_SECONDS = 600.0  # 9.6 MB of 8 kHz PCM
MAX_TEXT_CHARS = 4000
MAX_FILENAME_CHARS = 255
CONFIGURED = "configured"
UPLOADED = "uploaded"


class StoredAnnouncements(Protocol):
    """Where uploaded announcements' metadata lives (``AnnouncementRepository``)."""

    async def add(self, record: AnnouncementRecord) -> None: ...

    async def list(self) -> list[AnnouncementRecord]: ...

    async def delete(self, announcement_id: str) -> bool: ...


@dataclass(frozen=True, kw_only=True)
class AnnouncementInfo:
    """One announcement as the API shows it; ``origin`` is configured or uploaded."""

    id: str
    origin: str
    kind: str  # "text" or "file"
    text: str | None
    voice: str | None
    filename: str | None
    duration: float
    created_at: datetime | None


class MediaLibrary:
    def __init__(
        self,
        *,
        library: AnnouncementLibrary,
        stored: StoredAnnouncements,
        directory: Path,
        tts: SpeechSynthesizer,
        clock: Clock,
        max_seconds: float = MAX_UPLOAD_SECONDS,
    ) -> None:
        self._library = library
        self._stored = stored
        self._directory = directory
        self._tts = tts
        self._clock = clock
        self._max_seconds = max_seconds
        self._uploaded: dict[str, AnnouncementRecord] = {}
        self._reserved: set[str] = set()

    async def load(self) -> None:
        """Make the stored uploads playable (the server's start); one whose file is gone
        is logged and left out."""
        for record in await self._stored.list():
            path = self._path(record.id)
            if self._library.configured(record.id) is not None:
                log.warning("announcement %r is configured: its upload is hidden", record.id)
            elif not path.is_file():
                log.warning("announcement %r: its audio %s is missing", record.id, path)
            else:
                self._uploaded[record.id] = record
                self._library.add_uploaded(record.id, path)

    def list(self) -> list[AnnouncementInfo]:
        ids = sorted({*self._library.configured_ids(), *self._uploaded})
        return [info for info in (self._info_or_none(each) for each in ids) if info is not None]

    async def get(self, announcement_id: str) -> AnnouncementInfo:
        configured = self._library.configured(announcement_id)
        if configured is not None:
            pcm = await self._library.pcm(announcement_id)
            return AnnouncementInfo(
                id=configured.id,
                origin=CONFIGURED,
                kind="text" if configured.text is not None else "file",
                text=configured.text,
                voice=self._library.voice_of(configured),
                filename=None if configured.file is None else configured.file.name,
                duration=_seconds(pcm),
                created_at=None,
            )
        info = self._info_or_none(announcement_id)
        if info is None:
            raise UnknownAnnouncement(announcement_id)
        return info

    async def wav(self, announcement_id: str) -> bytes:
        """The announcement's audio as an 8 kHz mono 16-bit WAV file."""
        if not is_announcement_id(announcement_id):
            raise UnknownAnnouncement(announcement_id)
        pcm = await self._library.pcm(announcement_id)
        return wav_header(rate=SAMPLE_RATE, data_bytes=len(pcm)) + pcm

    async def upload_audio(
        self, *, announcement_id: str | None, data: bytes, filename: str | None, api_key_id: str
    ) -> AnnouncementInfo:
        """``data`` in any format libsndfile reads; raises :class:`InvalidAnnouncement`
        (not audio, too long, a bad id) or :class:`AnnouncementExists`."""
        name = (filename or "upload")[:MAX_FILENAME_CHARS]
        with self._reservation(announcement_id) as chosen:
            try:
                pcm = await asyncio.to_thread(
                    decode_for_telephony,
                    io.BytesIO(data),
                    name="the file",
                    max_seconds=self._max_seconds,
                )
            except BadAudio as exc:
                raise InvalidAnnouncement("file", f"not playable audio: {exc}") from exc
            return await self._keep(chosen, pcm, "file", None, None, name, api_key_id)

    async def upload_text(
        self, *, announcement_id: str | None, text: str, voice: str | None, api_key_id: str
    ) -> AnnouncementInfo:
        """``text`` spoken by espeak-ng in ``voice``; raises :class:`InvalidAnnouncement`
        (blank or too long text, an unknown voice) or :class:`AnnouncementExists`."""
        if not text.strip():
            raise InvalidAnnouncement("text", "text must not be blank")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidAnnouncement("text", f"text is longer than {MAX_TEXT_CHARS} characters")
        chosen_voice = voice or DEFAULT_VOICE
        with self._reservation(announcement_id) as chosen:
            try:
                spoken = await self._tts.synthesize(text, chosen_voice)
                pcm = await asyncio.to_thread(decode_for_telephony, spoken)
            except UnknownVoice as exc:
                raise InvalidAnnouncement("voice", f"espeak-ng has no voice {voice!r}") from exc
            except (TtsError, BadAudio, OSError) as exc:
                raise InvalidAnnouncement("text", f"speech failed: {exc}") from exc
            return await self._keep(chosen, pcm, "text", text, chosen_voice, None, api_key_id)

    async def delete(self, announcement_id: str) -> None:
        """Raises :class:`AnnouncementConfigured` or :class:`UnknownAnnouncement`."""
        if self._library.configured(announcement_id) is not None:
            raise AnnouncementConfigured(announcement_id)
        if announcement_id not in self._uploaded:
            raise UnknownAnnouncement(announcement_id)
        await self._stored.delete(announcement_id)
        self._uploaded.pop(announcement_id, None)
        self._library.remove_uploaded(announcement_id)
        await asyncio.to_thread(self._path(announcement_id).unlink, missing_ok=True)

    async def _keep(
        self,
        announcement_id: str,
        pcm: bytes,
        kind: str,
        text: str | None,
        voice: str | None,
        filename: str | None,
        api_key_id: str,
    ) -> AnnouncementInfo:
        if len(pcm) < 2:
            raise InvalidAnnouncement("file", "the audio is empty")
        record = AnnouncementRecord(
            id=announcement_id,
            kind=kind,
            text=text,
            voice=voice,
            filename=filename,
            duration=_seconds(pcm),
            api_key_id=api_key_id,
            created_at=self._clock.now(),
        )
        path = self._path(announcement_id)
        await asyncio.to_thread(self._write, path, pcm)
        try:
            await self._stored.add(record)
        except DuplicateAnnouncement as exc:  # stored by another node, or left by a crash
            await asyncio.to_thread(path.unlink, missing_ok=True)
            raise AnnouncementExists(announcement_id) from exc
        except BaseException:
            await asyncio.to_thread(path.unlink, missing_ok=True)
            raise
        self._uploaded[announcement_id] = record
        self._library.add_uploaded(announcement_id, path)
        return _uploaded_info(record)

    def _write(self, path: Path, pcm: bytes) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
        try:
            write_wav(partial, pcm, rate=SAMPLE_RATE)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)

    def _reservation(self, announcement_id: str | None) -> _Reservation:
        if announcement_id is None:
            announcement_id = "a" + secrets.token_hex(8)
        elif not is_announcement_id(announcement_id):
            raise InvalidAnnouncement("id", ID_RULE)
        if self._library.exists(announcement_id) or announcement_id in self._reserved:
            raise AnnouncementExists(announcement_id)
        return _Reservation(self._reserved, announcement_id)

    def _path(self, announcement_id: str) -> Path:
        return self._directory / f"{announcement_id}.wav"

    def _info_or_none(self, announcement_id: str) -> AnnouncementInfo | None:
        configured = self._library.configured(announcement_id)
        if configured is not None:
            return AnnouncementInfo(
                id=configured.id,
                origin=CONFIGURED,
                kind="text" if configured.text is not None else "file",
                text=configured.text,
                voice=self._library.voice_of(configured),
                filename=None if configured.file is None else configured.file.name,
                duration=self._library.rendered_seconds(configured.id),
                created_at=None,
            )
        record = self._uploaded.get(announcement_id)
        return None if record is None else _uploaded_info(record)


class _Reservation:
    def __init__(self, reserved: set[str], announcement_id: str) -> None:
        self._reserved = reserved
        self._id = announcement_id

    def __enter__(self) -> str:
        self._reserved.add(self._id)
        return self._id

    def __exit__(self, *exc: object) -> None:
        self._reserved.discard(self._id)


def _uploaded_info(record: AnnouncementRecord) -> AnnouncementInfo:
    return AnnouncementInfo(
        id=record.id,
        origin=UPLOADED,
        kind=record.kind,
        text=record.text,
        voice=record.voice,
        filename=record.filename,
        duration=record.duration,
        created_at=record.created_at,
    )


def _seconds(pcm: bytes) -> float:
    return round(len(pcm) / (2 * SAMPLE_RATE), 3)

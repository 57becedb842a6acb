"""MediaLibrary: the media library API's side of announcements: uploads (audio of any
format the Play verb reads, or text spoken by espeak-ng) converted to 8 kHz mono and
stored in the database with their metadata (:class:`SharedUploads`: every node sharing
the database lists, serves and plays them; each caches the audio as ``<id>.wav`` under
its folder), listed together with the configured ones.

An upload is decoded before anything is written; a failure at any step removes what it
wrote.  An id is reserved while its upload runs, and the database refuses a second row of
one id, so two uploads of one id (on one node or two) cannot both succeed."""

from __future__ import annotations

import asyncio
import io
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from callbridge.calls.announcements.errors import (
    AnnouncementConfigured,
    AnnouncementExists,
    InvalidAnnouncement,
    UnknownAnnouncement,
)
from callbridge.calls.announcements.ids import ID_RULE, is_announcement_id
from callbridge.calls.announcements.library import AnnouncementLibrary, SpeechSynthesizer
from callbridge.calls.announcements.shared import SharedUploads, UploadStore
from callbridge.codecs.formats import SAMPLE_RATE
from callbridge.engine.leg import DEFAULT_VOICE
from callbridge.media.audiofile import BadAudio, decode_for_telephony
from callbridge.media.tts import TtsError, UnknownVoice
from callbridge.media.wavfile import wav_header
from callbridge.store.announcements import AnnouncementRecord, DuplicateAnnouncement
from callbridge.store.clock import Clock

log = logging.getLogger(__name__)

MAX_UPLOAD_SECONDS = 600.0  # 9.6 MB of 8 kHz PCM
MAX_TEXT_CHARS = 4000
MAX_FILENAME_CHARS = 255
CONFIGURED = "configured"
UPLOADED = "uploaded"


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
        stored: UploadStore,
        directory: Path,
        tts: SpeechSynthesizer,
        clock: Clock,
        max_seconds: float = MAX_UPLOAD_SECONDS,
    ) -> None:
        """Makes ``library`` play the uploads (from ``stored``, cached in ``directory``)."""
        self._library = library
        self._uploads = SharedUploads(stored=stored, directory=directory)
        self._tts = tts
        self._clock = clock
        self._max_seconds = max_seconds
        self._reserved: set[str] = set()
        library.use_uploads(self._uploads)

    async def load(self) -> None:
        """The server's start: uploads stored before their audio was get it stored (from
        this node's file); an upload whose id is configured is hidden (logged)."""
        for record in await self._uploads.load():
            if self._library.configured(record.id) is not None:
                log.warning("announcement %r is configured: its upload is hidden", record.id)

    async def list(self) -> list[AnnouncementInfo]:
        """Every announcement, configured and uploaded (on any node), by id."""
        uploaded = {
            record.id: record
            for record in await self._uploads.records()
            if self._library.configured(record.id) is None
        }
        ids = sorted({*self._library.configured_ids(), *uploaded})
        return [
            _uploaded_info(uploaded[each]) if each in uploaded else self._configured_info(each)
            for each in ids
        ]

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
        record = await self._uploads.record(announcement_id)
        if record is None:
            raise UnknownAnnouncement(announcement_id)
        return _uploaded_info(record)

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
            await self._check_free(chosen)
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
            await self._check_free(chosen)
            try:
                spoken = await self._tts.synthesize(text, chosen_voice)
                pcm = await asyncio.to_thread(decode_for_telephony, spoken)
            except UnknownVoice as exc:
                raise InvalidAnnouncement("voice", f"espeak-ng has no voice {voice!r}") from exc
            except (TtsError, BadAudio, OSError) as exc:
                raise InvalidAnnouncement("text", f"speech failed: {exc}") from exc
            return await self._keep(chosen, pcm, "text", text, chosen_voice, None, api_key_id)

    async def delete(self, announcement_id: str) -> None:
        """Deletes it for every node; raises :class:`AnnouncementConfigured` or
        :class:`UnknownAnnouncement`."""
        if self._library.configured(announcement_id) is not None:
            raise AnnouncementConfigured(announcement_id)
        if not is_announcement_id(announcement_id):
            raise UnknownAnnouncement(announcement_id)
        if not await self._uploads.remove(announcement_id):
            raise UnknownAnnouncement(announcement_id)

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
        try:
            await self._uploads.keep(record, pcm)
        except DuplicateAnnouncement as exc:  # stored by another node meanwhile
            raise AnnouncementExists(announcement_id) from exc
        return _uploaded_info(record)

    async def _check_free(self, announcement_id: str) -> None:
        if await self._uploads.record(announcement_id) is not None:
            raise AnnouncementExists(announcement_id)

    def _reservation(self, announcement_id: str | None) -> _Reservation:
        if announcement_id is None:
            announcement_id = "a" + secrets.token_hex(8)
        elif not is_announcement_id(announcement_id):
            raise InvalidAnnouncement("id", ID_RULE)
        if self._library.configured(announcement_id) is not None:
            raise AnnouncementExists(announcement_id)
        if announcement_id in self._reserved:
            raise AnnouncementExists(announcement_id)
        return _Reservation(self._reserved, announcement_id)

    def _configured_info(self, announcement_id: str) -> AnnouncementInfo:
        configured = self._library.configured(announcement_id)
        assert configured is not None
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

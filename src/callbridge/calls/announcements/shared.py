"""SharedUploads: uploaded announcements as every node sharing one database sees them.

An upload's metadata and its audio (8 kHz mono 16-bit PCM) are in the database; each node
keeps a copy of the audio as ``<id>.wav`` under its ``announcements_dir``, a cache written
on first use (atomically: a temporary name renamed).  Every play asks the database first,
so an announcement deleted on one node is refused on every node from then on (the cache
file is removed when that is noticed), and one deleted and uploaded again under the same
id is fetched again (the cache remembers which upload, by its ``created_at``, it holds).

Announcements uploaded before their audio was kept in the database have only the file of
the node that took them: :meth:`SharedUploads.load` stores that file's audio."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Protocol

from callbridge.calls.announcements.ids import is_announcement_id
from callbridge.codecs.formats import SAMPLE_RATE
from callbridge.media.audiofile import BadAudio, decode_for_telephony
from callbridge.media.wavfile import write_wav
from callbridge.store.announcements import AnnouncementRecord

log = logging.getLogger(__name__)


class UploadStore(Protocol):
    """Where uploads live (``AnnouncementRepository``)."""

    async def add(self, record: AnnouncementRecord, pcm: bytes) -> None: ...

    async def get(self, announcement_id: str) -> AnnouncementRecord | None: ...

    async def list(self) -> list[AnnouncementRecord]: ...

    async def audio(self, announcement_id: str) -> bytes | None: ...

    async def missing_audio(self) -> tuple[str, ...]: ...

    async def put_audio(self, announcement_id: str, pcm: bytes) -> bool: ...

    async def delete(self, announcement_id: str) -> bool: ...


class SharedUploads:
    def __init__(self, *, stored: UploadStore, directory: Path) -> None:
        self._stored = stored
        self._directory = directory
        self._cached: dict[str, datetime] = {}  # id → created_at of the upload its file holds
        self._known: set[str] = set()

    def known(self, announcement_id: str) -> bool:
        """Whether this node last saw it stored (a hint: :meth:`path_of` decides)."""
        return announcement_id in self._known

    async def load(self) -> list[AnnouncementRecord]:
        """Stores the audio of uploads kept before it was stored (from this node's file);
        returns every stored upload."""
        for announcement_id in await self._stored.missing_audio():
            path = self._path(announcement_id)
            if not await asyncio.to_thread(path.is_file):
                log.warning("announcement %r: its audio %s is missing", announcement_id, path)
                continue
            try:
                pcm = await asyncio.to_thread(decode_for_telephony, path)
            except (BadAudio, OSError) as exc:
                log.warning(
                    "announcement %r: its audio %s is unusable: %s", announcement_id, path, exc
                )
                continue
            if await self._stored.put_audio(announcement_id, pcm):
                log.info("announcement %r: its audio is now stored for every node", announcement_id)
        return await self.records()

    async def records(self) -> list[AnnouncementRecord]:
        records = await self._stored.list()
        self._known = {record.id for record in records}
        return records

    async def record(self, announcement_id: str) -> AnnouncementRecord | None:
        if not is_announcement_id(announcement_id):
            return None
        record = await self._stored.get(announcement_id)
        if record is None:
            await self._forget(announcement_id)
        else:
            self._known.add(announcement_id)
        return record

    async def path_of(self, announcement_id: str) -> Path | None:
        """Its 8 kHz WAV on this node, fetched from the database unless the cache holds
        this very upload; ``None``: no such announcement (any more)."""
        record = await self.record(announcement_id)
        if record is None:
            return None
        path = self._path(announcement_id)
        fresh = self._cached.get(announcement_id) == record.created_at
        if fresh and await asyncio.to_thread(path.is_file):
            return path
        pcm = await self._stored.audio(announcement_id)
        if pcm is None:  # stored before its audio was, on a node that had no file of it
            return path if await asyncio.to_thread(path.is_file) else None
        partial = await asyncio.to_thread(self._write_partial, path, pcm)
        await asyncio.to_thread(partial.replace, path)
        self._cached[announcement_id] = record.created_at
        return path

    async def keep(self, record: AnnouncementRecord, pcm: bytes) -> Path:
        """Stores a new upload (raises ``DuplicateAnnouncement`` when the id is taken)
        and caches its audio here."""
        path = self._path(record.id)
        partial = await asyncio.to_thread(self._write_partial, path, pcm)
        try:
            await self._stored.add(record, pcm)
            await asyncio.to_thread(partial.replace, path)
        finally:
            await asyncio.to_thread(partial.unlink, missing_ok=True)
        self._cached[record.id] = record.created_at
        self._known.add(record.id)
        return path

    async def remove(self, announcement_id: str) -> bool:
        """Deletes it for every node; False: there was none."""
        removed = await self._stored.delete(announcement_id)
        await self._forget(announcement_id)
        return removed

    async def _forget(self, announcement_id: str) -> None:
        self._known.discard(announcement_id)
        self._cached.pop(announcement_id, None)
        if is_announcement_id(announcement_id):
            await asyncio.to_thread(self._path(announcement_id).unlink, missing_ok=True)

    def _write_partial(self, path: Path, pcm: bytes) -> Path:
        self._directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
        try:
            write_wav(partial, pcm, rate=SAMPLE_RATE)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return partial

    def _path(self, announcement_id: str) -> Path:
        return self._directory / f"{announcement_id}.wav"

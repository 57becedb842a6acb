"""MessageAudio: a voicemail message's WAV file on this node, whichever node took it.

Each message's audio is in the database (written with the message); each node keeps a
copy as ``<mailbox>/<name>.wav`` under its voicemail directory — the node that took the
message has it there from the recording, the others write it on first use (atomically: a
temporary name renamed).  A message's name is a fresh UUID, so a cached file is never
stale; the message is looked up before its audio is asked for, so one deleted on any
node is refused on every node.  Its MP3 is made beside the copy (:mod:`.mp3`).  The node
that deletes a message removes its copies at once; every node removes its copies of
messages deleted elsewhere every :data:`PRUNE_SECONDS` (:meth:`MessageAudio.run`), but
not a file changed in the last :data:`KEEP_RECENT_SECONDS` (a message being recorded).

Messages left before their audio was kept in the database have only the file of the node
that took them: :meth:`MessageAudio.load` stores that file's audio."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import time
from pathlib import Path
from typing import Protocol

from callbridge.store.voicemails import VoicemailRecord

log = logging.getLogger(__name__)

_NAME = re.compile(r"[0-9a-f]{32}\.wav")
_MAILBOX = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
PRUNE_SECONDS = 600.0
KEEP_RECENT_SECONDS = 3600.0


class AudioStore(Protocol):
    """Where messages' audio lives (``VoicemailAudioRepository``)."""

    async def get(self, voicemail_id: int) -> bytes | None: ...

    async def missing(self) -> tuple[tuple[int, str], ...]: ...

    async def put(self, voicemail_id: int, wav: bytes) -> bool: ...

    async def paths(self, mailbox: str) -> tuple[str, ...]: ...


class MessageAudio:
    def __init__(self, *, stored: AudioStore, directory: Path) -> None:
        self._stored = stored
        self._directory = directory

    def new_path(self, mailbox: str, name: str) -> Path:
        """Where a message recorded here is written (``name``: 32 hex digits)."""
        return self._directory / mailbox / f"{name}.wav"

    async def load(self) -> int:
        """Stores the audio of messages left before it was stored, from this node's
        files; returns how many it stored."""
        stored = 0
        for voicemail_id, path_text in await self._stored.missing():
            path = Path(path_text)
            try:
                wav = await asyncio.to_thread(path.read_bytes)
            except OSError:  # another node's message (or its file is gone)
                continue
            if await self._stored.put(voicemail_id, wav):
                stored += 1
                log.info("voicemail %d: its audio is now stored for every node", voicemail_id)
        return stored

    async def path_of(self, record: VoicemailRecord) -> Path | None:
        """Its WAV file on this node, fetched from the database unless cached here;
        ``None``: its audio is nowhere this node can reach."""
        local = self._cache_path(record)
        if local is not None and await asyncio.to_thread(local.is_file):
            return local
        wav = await self._stored.get(record.id)
        if wav is None or local is None:  # left before its audio was stored
            recorded = Path(record.path)
            return recorded if await asyncio.to_thread(recorded.is_file) else None
        await asyncio.to_thread(self._write, local, wav)
        return local

    async def forget(self, record: VoicemailRecord) -> None:
        """Removes this node's copies of a deleted message (WAV and MP3)."""
        for path in {Path(record.path), self._cache_path(record)}:
            if path is not None:
                await asyncio.to_thread(path.unlink, missing_ok=True)
                await asyncio.to_thread(path.with_suffix(".mp3").unlink, missing_ok=True)

    async def run(self) -> None:
        """Prune every :data:`PRUNE_SECONDS` until cancelled."""
        while True:
            await asyncio.sleep(PRUNE_SECONDS)
            try:
                await self.prune()
            except Exception as exc:  # the database may be briefly away
                log.warning("voicemail: copies of deleted messages not pruned (%s)", exc)

    async def prune(self, *, keep_recent: float = KEEP_RECENT_SECONDS) -> int:
        """Removes this node's copies of messages deleted (on any node); returns how many
        messages' copies it removed."""
        removed = 0
        for folder in await asyncio.to_thread(self._mailbox_folders):
            names = {Path(path).name for path in await self._stored.paths(folder.name)}
            stale = await asyncio.to_thread(self._stale, folder, names, keep_recent)
            for path in stale:
                await asyncio.to_thread(path.unlink, missing_ok=True)
                await asyncio.to_thread(path.with_suffix(".mp3").unlink, missing_ok=True)
            removed += len(stale)
        return removed

    def _mailbox_folders(self) -> list[Path]:
        if not self._directory.is_dir():
            return []
        return [
            each
            for each in self._directory.iterdir()
            if each.is_dir() and _MAILBOX.fullmatch(each.name) is not None
        ]

    @staticmethod
    def _stale(folder: Path, names: set[str], keep_recent: float) -> list[Path]:
        newest = time.time() - keep_recent
        stale = []
        for each in folder.glob("*.wav"):
            if _NAME.fullmatch(each.name) is None or each.name in names:
                continue
            try:
                if each.stat().st_mtime < newest:
                    stale.append(each)
            except OSError:  # removed meanwhile
                continue
        return stale

    def _cache_path(self, record: VoicemailRecord) -> Path | None:
        name = Path(record.path).name
        if _NAME.fullmatch(name) is None or _MAILBOX.fullmatch(record.mailbox) is None:
            return None
        return self._directory / record.mailbox / name

    def _write(self, path: Path, wav: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
        try:
            partial.write_bytes(wav)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)

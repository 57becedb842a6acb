"""MessageAudio: a voicemail message's WAV file on this node, whichever node took it.

Each message's audio is in the database (written with the message); each node keeps a
copy as ``<mailbox>/<name>.wav`` under its voicemail directory — the node that took the
message has it there from the recording, the others write it on first use (atomically: a
temporary name renamed).  A message's name is a fresh UUID, so a cached file is never
stale; the message is looked up before its audio is asked for, so one deleted on any
node is refused on every node.  Its MP3 is made beside the copy (:mod:`.mp3`).

Messages left before their audio was kept in the database have only the file of the node
that took them: :meth:`MessageAudio.load` stores that file's audio."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
from pathlib import Path
from typing import Protocol

from callbridge.store.voicemails import VoicemailRecord

log = logging.getLogger(__name__)

_NAME = re.compile(r"[0-9a-f]{32}\.wav")
_MAILBOX = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")


class AudioStore(Protocol):
    """Where messages' audio lives (``VoicemailAudioRepository``)."""

    async def get(self, voicemail_id: int) -> bytes | None: ...

    async def missing(self) -> tuple[tuple[int, str], ...]: ...

    async def put(self, voicemail_id: int, wav: bytes) -> bool: ...


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

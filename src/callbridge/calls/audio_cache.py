"""AudioCache: decoded ``<Play>`` audio on disk, one 8 kHz WAV per key (a URL's hash).

An entry is fresh for ``ttl`` seconds after it was stored (its file's mtime), so a prompt
replaced at the same URL is heard within that time; a stale entry is still there to play
when the URL cannot be fetched again.  The entries together stay under ``max_bytes``:
storing one removes the least recently used (by the atime each use sets) beyond that.
Files are written under a temporary name and renamed into place.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from callbridge.codecs.formats import SAMPLE_RATE
from callbridge.media.wavfile import write_wav

log = logging.getLogger(__name__)

SUFFIX = ".wav"


@dataclass(frozen=True)
class CachedAudio:
    path: Path
    fresh: bool


class AudioCache:
    def __init__(
        self,
        *,
        directory: Path,
        ttl: float,
        max_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        self._ttl = ttl
        self._max_bytes = max_bytes
        self._clock = clock

    def find(self, key: str) -> CachedAudio | None:
        """The entry of ``key``, if any, marked as used now."""
        path = self._path(key)
        try:
            stored = path.stat().st_mtime
            now = self._clock()
            os.utime(path, (now, stored))
        except FileNotFoundError:
            return None
        return CachedAudio(path=path, fresh=now - stored < self._ttl)

    def store(self, key: str, pcm: bytes) -> Path:
        """Keep ``pcm`` (16-bit mono at 8 kHz) as the entry of ``key``; older entries go
        when the cache is over its size."""
        self._directory.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        partial = path.with_name(f"{path.name}.{os.getpid()}.part")
        write_wav(partial, pcm, rate=SAMPLE_RATE)
        now = self._clock()
        os.utime(partial, (now, now))
        partial.replace(path)
        self._trim(keep=path)
        return path

    def _path(self, key: str) -> Path:
        return self._directory / f"{key}{SUFFIX}"

    def _trim(self, *, keep: Path) -> None:
        entries = []
        for path in self._directory.glob(f"*{SUFFIX}"):
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            entries.append((info.st_atime, info.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries, key=lambda entry: entry[0]):
            if total <= self._max_bytes:
                return
            if path == keep:
                continue
            path.unlink(missing_ok=True)
            total -= size
            log.info("audio cache over %d bytes: removed %s", self._max_bytes, path.name)

"""HttpAudioLoader: Play URLs downloaded once into a cache, decoded from WAV."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from callbridge.callflow.errors import FetchError
from callbridge.calls.http_fetch import fetch_bounded
from callbridge.httpclient.client import HttpClient
from callbridge.media.plane import AudioSource
from callbridge.media.sources import ToneSource, WavSource
from callbridge.media.wavfile import BadWav

MAX_AUDIO_BYTES = 50_000_000  # about 50 minutes of 8 kHz 16-bit WAV


class HttpAudioLoader:
    """Only WAV is decoded (any rate, width and channel count); other formats are refused
    with a clear error rather than played as noise."""

    def __init__(
        self,
        *,
        client: HttpClient,
        cache_dir: Path,
        timeout: float = 30.0,
        max_bytes: int = MAX_AUDIO_BYTES,
    ) -> None:
        self._client = client
        self._cache_dir = cache_dir
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._locks: dict[str, asyncio.Lock] = {}

    async def load(self, url: str) -> AudioSource:
        path = await self._cached(url)
        try:
            return await asyncio.to_thread(WavSource, path)
        except (BadWav, OSError) as exc:
            path.unlink(missing_ok=True)
            raise FetchError(f"{url} is not playable audio (WAV expected): {exc}") from exc

    def beep(self) -> AudioSource:
        return ToneSource(frequencies=(1000.0,), duration_s=0.25, level=0.4)

    async def _cached(self, url: str) -> Path:
        key = hashlib.sha256(url.encode()).hexdigest()
        path = self._cache_dir / f"{key}.wav"
        async with self._locks.setdefault(key, asyncio.Lock()):
            if path.exists():
                return path
            body = await fetch_bounded(
                self._client, url, max_bytes=self._max_bytes, timeout=self._timeout
            )
            self._cache_dir.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.part")
            await asyncio.to_thread(partial.write_bytes, body)
            partial.replace(path)
        self._locks.pop(key, None)
        return path

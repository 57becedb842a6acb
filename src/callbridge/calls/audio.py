"""HttpAudioLoader: ``<Play>`` URLs fetched, decoded to 8 kHz once (any format libsndfile
reads: WAV, MP3, Ogg, FLAC, ...) and kept in an :class:`AudioCache`.

A URL whose entry is stale is fetched again; if that fails, the stale copy plays (the
call goes on) and the failure is logged."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from pathlib import Path

from callbridge.callflow.errors import FetchError
from callbridge.calls.audio_cache import AudioCache
from callbridge.calls.http_fetch import fetch_bounded
from callbridge.httpclient.port import HttpRequests
from callbridge.media.audiofile import MAX_SECONDS, BadAudio, decode_for_telephony
from callbridge.media.plane import AudioSource
from callbridge.media.sources import AudioFileSource, ToneSource

log = logging.getLogger(__name__)

MAX_AUDIO_BYTES = 50_000_000  # about 50 minutes of 128 kbit/s MP3, or of 8 kHz 16-bit WAV


class HttpAudioLoader:
    def __init__(
        self,
        *,
        client: HttpRequests,
        cache: AudioCache,
        timeout: float = 30.0,
        max_bytes: int = MAX_AUDIO_BYTES,
        max_seconds: float = MAX_SECONDS,
    ) -> None:
        self._client = client
        self._cache = cache
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_seconds = max_seconds
        self._locks: dict[str, asyncio.Lock] = {}

    async def load(self, url: str) -> AudioSource:
        key = hashlib.sha256(url.encode()).hexdigest()
        async with self._locks.setdefault(key, asyncio.Lock()):
            path = await self._cached(url, key)
        self._locks.pop(key, None)
        try:
            return await asyncio.to_thread(AudioFileSource, path)
        except (BadAudio, OSError) as exc:  # the cache file went bad: fetch it anew next time
            path.unlink(missing_ok=True)
            raise FetchError(f"{url}: the cached audio is unreadable: {exc}") from exc

    def beep(self) -> AudioSource:
        return ToneSource(frequencies=(1000.0,), duration_s=0.25, level=0.4)

    async def _cached(self, url: str, key: str) -> Path:
        cached = await asyncio.to_thread(self._cache.find, key)
        if cached is not None and cached.fresh:
            return cached.path
        try:
            body = await fetch_bounded(
                self._client, url, max_bytes=self._max_bytes, timeout=self._timeout
            )
        except FetchError as exc:
            if cached is None:
                raise
            log.warning("playing the cached copy of %s, which could not be fetched: %s", url, exc)
            return cached.path
        pcm = await asyncio.to_thread(self._decode, url, body)
        return await asyncio.to_thread(self._cache.store, key, pcm)

    def _decode(self, url: str, body: bytes) -> bytes:
        try:
            return decode_for_telephony(io.BytesIO(body), name=url, max_seconds=self._max_seconds)
        except BadAudio as exc:
            raise FetchError(f"{url} is not playable audio: {exc}") from exc

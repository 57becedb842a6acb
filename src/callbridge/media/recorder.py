"""WAV recording of received audio whose length equals wall time.

Received frames go into a small jitter queue; every media clock tick writes exactly one
20 ms frame — the oldest queued one, or silence when nothing arrived — so gaps (silence
suppression, lost packets, a peer on hold) appear as silence and the file's duration is the
recording's wall time.  The queue is capped so a fast sender cannot grow it without bound.
The WAV header is written with a zero length and fixed up on :meth:`WavRecorder.close`.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import BinaryIO

from callbridge.codecs.formats import FRAME_BYTES, SAMPLE_RATE
from callbridge.media.wavfile import fix_header, wav_header
from callbridge.rtp.clock import ClockSubscription, MediaClock

SILENT_FRAME = bytes(FRAME_BYTES)
MAX_QUEUED_FRAMES = 5


class WavRecorder:
    """Writes 8 kHz mono 16-bit PCM to ``path``, one frame per clock tick."""

    def __init__(self, *, path: Path, clock: MediaClock) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._file: BinaryIO | None = path.open("wb")
        self._file.write(wav_header(rate=SAMPLE_RATE, data_bytes=0))
        self._queue: deque[bytes] = deque(maxlen=MAX_QUEUED_FRAMES)
        self._pending = b""
        self._data_bytes = 0
        self._tick: ClockSubscription | None = clock.subscribe(self._on_tick)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def data_bytes(self) -> int:
        return self._data_bytes

    def write(self, pcm: bytes) -> None:
        """Queue received PCM (any length; re-cut into 20 ms frames)."""
        if self._file is None:
            return
        if not self._pending and len(pcm) == FRAME_BYTES:
            self._queue.append(pcm)
            return
        data = self._pending + pcm
        whole = len(data) // FRAME_BYTES * FRAME_BYTES
        for offset in range(0, whole, FRAME_BYTES):
            self._queue.append(data[offset : offset + FRAME_BYTES])
        self._pending = data[whole:]

    def _on_tick(self) -> None:
        frame = self._queue.popleft() if self._queue else SILENT_FRAME
        self._emit(frame)

    def _emit(self, frame: bytes) -> None:
        if self._file is not None:
            self._file.write(frame)
            self._data_bytes += len(frame)

    def close(self) -> None:
        """Flush queued audio, fix the header up and close the file (idempotent)."""
        if self._tick is not None:
            self._tick.close()
            self._tick = None
        if self._file is None:
            return
        while self._queue:
            self._emit(self._queue.popleft())
        fix_header(self._file, rate=SAMPLE_RATE, data_bytes=self._data_bytes)
        self._file.close()
        self._file = None

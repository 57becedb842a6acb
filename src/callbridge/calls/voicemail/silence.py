"""SilenceMeter: how long the received audio has been silent (pure, fed PCM as it comes)."""

from __future__ import annotations

import numpy as np

from callbridge.codecs.formats import FRAME_BYTES, SAMPLE_RATE

# A 20 ms frame whose RMS is below this (of 32767: about -44 dBFS) is silence: a phone's
# idle microphone and G.711's quantisation noise stay well below it, speech well above.
SILENCE_RMS = 200.0
FRAME_SECONDS = FRAME_BYTES / 2 / SAMPLE_RATE


class SilenceMeter:
    """Fed 8 kHz 16-bit PCM in order; says how many seconds of silence end it, and where
    (in seconds from the start) the last sound ended."""

    def __init__(self, *, threshold: float = SILENCE_RMS) -> None:
        self._threshold = threshold
        self._pending = b""
        self._frames = 0
        self._last_sound_frame = 0  # frames up to and including the last loud one

    def feed(self, pcm: bytes) -> None:
        data = self._pending + pcm
        whole = len(data) // FRAME_BYTES * FRAME_BYTES
        self._pending = data[whole:]
        if not whole:
            return
        samples = np.frombuffer(data[:whole], dtype="<i2").astype(np.float64)
        frames = samples.reshape(-1, FRAME_BYTES // 2)
        rms = np.sqrt(np.mean(frames * frames, axis=1))
        loud = np.flatnonzero(rms >= self._threshold)
        if loud.size:
            self._last_sound_frame = self._frames + int(loud[-1]) + 1
        self._frames += len(frames)

    @property
    def silent_seconds(self) -> float:
        return (self._frames - self._last_sound_frame) * FRAME_SECONDS

    @property
    def sound_ends_at(self) -> float:
        return self._last_sound_frame * FRAME_SECONDS

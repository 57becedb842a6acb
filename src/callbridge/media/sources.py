"""Audio sources: 20 ms frames of 16-bit mono PCM at 8 kHz (see :mod:`callbridge.media.plane`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from callbridge.codecs.formats import FRAME_BYTES, FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE
from callbridge.media.audiofile import decode_for_telephony
from callbridge.media.plane import AudioSource

SILENT_FRAME = bytes(FRAME_BYTES)
_TAU = 2 * math.pi


def _frames_for(seconds: float) -> int:
    return max(0, round(seconds / FRAME_SECONDS))


class SilenceSource:
    """``duration_s`` of digital silence."""

    def __init__(self, *, duration_s: float) -> None:
        self._left = _frames_for(duration_s)

    def read_frame(self) -> bytes | None:
        if self._left <= 0:
            return None
        self._left -= 1
        return SILENT_FRAME


class ToneSource:
    """A sum of sine tones, optionally cadenced (e.g. ringback 440+480 Hz, 2 s on / 4 s off).

    ``duration_s=None`` plays until stopped.  ``cadence=(on_s, off_s)`` silences the off part
    of each period.  ``level`` is the peak amplitude of the sum as a fraction of full scale.
    """

    def __init__(
        self,
        *,
        frequencies: Sequence[float],
        duration_s: float | None,
        cadence: tuple[float, float] | None = None,
        level: float = 0.3,
    ) -> None:
        if not frequencies:
            raise ValueError("a tone needs at least one frequency")
        self._frequencies = np.asarray(frequencies, dtype=np.float64)
        self._left = None if duration_s is None else _frames_for(duration_s)
        self._cadence = (
            None if cadence is None else (_frames_for(cadence[0]), _frames_for(cadence[1]))
        )
        self._amplitude = level * 32767.0 / len(frequencies)
        self._frame = 0
        self._offsets = np.arange(FRAME_SAMPLES, dtype=np.float64)

    def read_frame(self) -> bytes | None:
        if self._left is not None:
            if self._left <= 0:
                return None
            self._left -= 1
        index = self._frame
        self._frame += 1
        if self._cadence is not None and not self._sounding(index):
            return SILENT_FRAME
        return self._render(index)

    def _sounding(self, index: int) -> bool:
        assert self._cadence is not None
        on, off = self._cadence
        return off == 0 or index % (on + off) < on

    def _render(self, index: int) -> bytes:
        t = (index * FRAME_SAMPLES + self._offsets) / SAMPLE_RATE
        wave = np.sin(_TAU * np.outer(self._frequencies, t)).sum(axis=0) * self._amplitude
        return bytes(wave.astype("<i2").tobytes())


class PcmSource:
    """Frames cut from a PCM buffer (the last frame padded with silence)."""

    def __init__(self, *, pcm: bytes) -> None:
        self._pcm = pcm
        self._offset = 0

    def read_frame(self) -> bytes | None:
        if self._offset >= len(self._pcm):
            return None
        frame = self._pcm[self._offset : self._offset + FRAME_BYTES]
        self._offset += FRAME_BYTES
        return frame if len(frame) == FRAME_BYTES else frame.ljust(FRAME_BYTES, b"\0")


class AudioFileSource(PcmSource):
    """An audio file of any format, rate, width and channel count
    (:func:`callbridge.media.audiofile.decode_for_telephony`), decoded when constructed;
    raises :class:`callbridge.media.audiofile.BadAudio` or ``OSError``."""

    def __init__(self, path: Path) -> None:
        super().__init__(pcm=decode_for_telephony(Path(path)))


class SequenceSource:
    """Plays several sources one after the other."""

    def __init__(self, sources: Sequence[AudioSource]) -> None:
        self._sources = list(sources)
        self._index = 0

    def read_frame(self) -> bytes | None:
        while self._index < len(self._sources):
            frame = self._sources[self._index].read_frame()
            if frame is not None:
                return frame
            self._index += 1
        return None


DTMF_FREQUENCIES = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}  # fmt: skip


def dtmf_tones(digits: str, *, duration_ms: int = 100, gap_ms: int = 60) -> SequenceSource:
    """In-band DTMF (ITU-T Q.23 frequency pairs) for peers without telephone-event."""
    parts: list[AudioSource] = []
    for digit in digits.upper():
        frequencies = DTMF_FREQUENCIES.get(digit)
        if frequencies is None:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        parts.append(ToneSource(frequencies=frequencies, duration_s=duration_ms / 1000))
        parts.append(SilenceSource(duration_s=gap_ms / 1000))
    return SequenceSource(parts)

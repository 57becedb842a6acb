"""Audio assertions for tests: Goertzel tone power, dominant frequency, RMS, WAV reading."""

from __future__ import annotations

import math
import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.int16] | npt.NDArray[np.float64] | bytes


def as_float(samples: Samples) -> npt.NDArray[np.float64]:
    """int16 array, float array or s16le bytes -> float64 array in sample units."""
    if isinstance(samples, bytes | bytearray):
        return np.frombuffer(samples, "<i2").astype(np.float64)
    return np.asarray(samples, dtype=np.float64)


def goertzel_power(samples: Samples, freq: float, rate: int = 8000) -> float:
    """Power of ``freq`` in ``samples`` (Goertzel), normalised so a full-length sine of
    amplitude A gives about A**2 / 4 — comparable across frequencies and lengths."""
    x = as_float(samples)
    n = len(x)
    if n == 0:
        return 0.0
    coeff = 2.0 * math.cos(2.0 * math.pi * freq / rate)
    s_prev = s_prev2 = 0.0
    for value in x.tolist():
        s = value + coeff * s_prev - s_prev2
        s_prev2, s_prev = s_prev, s
    power = s_prev2**2 + s_prev**2 - coeff * s_prev * s_prev2
    return float(power) / (n * n)


def dominant_frequency(
    samples: Samples, rate: int = 8000, candidates: Iterable[float] | None = None
) -> float:
    """The strongest frequency: among ``candidates`` (Goertzel) or over the FFT bins."""
    x = as_float(samples)
    if candidates is not None:
        return max(candidates, key=lambda f: goertzel_power(x, f, rate))
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    spectrum[0] = 0.0
    return float(np.fft.rfftfreq(len(x), 1.0 / rate)[int(np.argmax(spectrum))])


def rms(samples: Samples) -> float:
    """Root mean square in sample units (full-scale sine ~ 23170)."""
    x = as_float(samples)
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


def read_wav_mono(path: Path) -> tuple[int, npt.NDArray[np.int16]]:
    """(rate, int16 samples) of a 16-bit WAV; channels averaged to mono."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: {wav.getsampwidth() * 8}-bit, expected 16")
        rate, channels = wav.getframerate(), wav.getnchannels()
        data = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return rate, data


def _tone_frames_at(recording: Path | None, frequency: float) -> Iterable[int]:
    """The indexes of the 20 ms frames of an 8 kHz recording where ``frequency`` is loud
    (RMS 500 or more) and dominates (20 times the power at 1.37 times the frequency)."""
    assert recording is not None, "no recording"
    _, samples = read_wav_mono(recording)
    for index, start in enumerate(range(0, len(samples) - 160, 160)):
        frame = samples[start : start + 160]
        if rms(frame) >= 500 and goertzel_power(frame, frequency) > 20 * goertzel_power(
            frame, frequency * 1.37
        ):
            yield index


def tone_frames(recording: Path | None, frequency: float) -> int:
    """20 ms frames of an 8 kHz recording where ``frequency`` is loud and dominates."""
    return sum(1 for _ in _tone_frames_at(recording, frequency))


def first_frame(recording: Path | None, frequency: float) -> int:
    """The index of the first 20 ms frame where ``frequency`` is loud and dominates."""
    for index in _tone_frames_at(recording, frequency):
        return index
    raise AssertionError(f"no {frequency} Hz in the recording")

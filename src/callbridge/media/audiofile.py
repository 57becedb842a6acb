"""Audio files in, telephony PCM out: 16-bit mono at 8 kHz (G.711's rate, RFC 3551 §4.5.14).

Any format libsndfile reads: WAV (PCM, float, A-law, mu-law, extensible), MP3, Ogg Vorbis and
Opus, FLAC, AIFF, AU and more.  Decoding is libsndfile's, through ``soundfile`` (its wheels
bundle libsndfile with its MP3 codecs); resampling is libsoxr's, through ``soxr`` (a
streaming, alias-free resampler).  A hand-written RIFF parser and FIR resampler did this
before, for WAV only.

The file is decoded a second at a time: channels averaged, the block resampled and appended
as PCM, so what sits in memory is one block of the source and the 8 kHz result (16 KB a
second), whatever the source's rate and width.  ``max_seconds`` bounds the result; a header
that announces more is refused before anything is decoded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import soundfile
import soxr

from callbridge.codecs.formats import SAMPLE_RATE

MAX_SECONDS = 3600.0  # an hour of 8 kHz PCM is 57.6 MB
BLOCK_SECONDS = 1.0

Samples = npt.NDArray[np.floating[Any]]


class BadAudio(Exception):
    """Not audio that can be decoded, or longer than allowed."""


def decode_for_telephony(
    source: Path | BinaryIO, *, name: str | None = None, max_seconds: float = MAX_SECONDS
) -> bytes:
    """The audio of ``source`` (a file, or its bytes as a binary file object) as 16-bit
    little-endian mono PCM at 8 kHz; ``name`` names it in errors."""
    name = name or (source.name if isinstance(source, Path) else "audio")
    try:
        with soundfile.SoundFile(source) as audio:
            return _decode(audio, max_seconds=max_seconds, name=name)
    except soundfile.SoundFileError as exc:
        raise BadAudio(f"{name}: {exc}") from exc


def _decode(audio: soundfile.SoundFile, *, max_seconds: float, name: str) -> bytes:
    rate = int(audio.samplerate)
    limit = int(max_seconds * rate)
    if audio.frames > limit:
        raise BadAudio(f"{name}: {audio.frames / rate:.0f} s, more than {max_seconds:g} s")
    stream = None if rate == SAMPLE_RATE else soxr.ResampleStream(rate, SAMPLE_RATE, 1)
    block = max(1, int(rate * BLOCK_SECONDS))
    pcm = bytearray()
    decoded = 0
    while True:
        frames = audio.read(block, dtype="float32", always_2d=True)
        decoded += len(frames)
        if decoded > limit:
            raise BadAudio(f"{name}: longer than {max_seconds:g} s")
        last = len(frames) < block
        mono = frames.mean(axis=1)
        pcm += to_pcm16(mono if stream is None else stream.resample_chunk(mono, last=last))
        if last:
            return bytes(pcm)


def to_pcm16(samples: Samples) -> bytes:
    """Float samples in [-1, 1] to 16-bit little-endian PCM (clipped)."""
    scaled = np.clip(np.round(samples * 32767.0), -32768, 32767)
    return bytes(scaled.astype("<i2").tobytes())

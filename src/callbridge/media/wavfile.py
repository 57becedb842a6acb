"""Writing RIFF/WAVE files (Microsoft RIFF WAVE, RFC 2361 §4): the canonical 44-byte
header of 16-bit PCM, and rewriting it once a recording's length is known.  Reading any
audio file is :mod:`callbridge.media.audiofile`'s (libsndfile)."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

_PCM = 0x0001
_FMT = struct.Struct("<HHIIHH")
_CHUNK = struct.Struct("<4sI")
HEADER_BYTES = 44


def wav_header(*, rate: int, data_bytes: int, channels: int = 1, bits: int = 16) -> bytes:
    """Canonical 44-byte PCM WAV header."""
    block = channels * bits // 8
    return (
        _CHUNK.pack(b"RIFF", 36 + data_bytes)
        + b"WAVE"
        + _CHUNK.pack(b"fmt ", 16)
        + _FMT.pack(_PCM, channels, rate, rate * block, block, bits)
        + _CHUNK.pack(b"data", data_bytes)
    )


def write_wav(path: Path, pcm: bytes, *, rate: int) -> None:
    """Write 16-bit mono PCM as a WAV file."""
    with path.open("wb") as out:
        out.write(wav_header(rate=rate, data_bytes=len(pcm)))
        out.write(pcm)


def fix_header(out: BinaryIO, *, rate: int, data_bytes: int) -> None:
    """Rewrite the header of an open file once its data length is known."""
    out.seek(0)
    out.write(wav_header(rate=rate, data_bytes=data_bytes))

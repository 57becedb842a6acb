"""RIFF/WAVE reading and writing for the media plane (Microsoft RIFF WAVE, RFC 2361 §4).

The standard library ``wave`` module of Python 3.11 reads only integer PCM; prompts in the
wild also come as IEEE float and WAVE_FORMAT_EXTENSIBLE, so this reads those too.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

_PCM = 0x0001
_FLOAT = 0x0003
_EXTENSIBLE = 0xFFFE
_FMT = struct.Struct("<HHIIHH")
_CHUNK = struct.Struct("<4sI")
HEADER_BYTES = 44

FloatSamples = npt.NDArray[np.float64]


class BadWav(Exception):
    """A file that is not a RIFF/WAVE with PCM or float samples we can read."""


@dataclass(frozen=True)
class WavAudio:
    """Decoded audio: mono samples in [-1, 1] at ``rate`` Hz."""

    rate: int
    samples: FloatSamples


def read_wav(path: Path) -> WavAudio:
    """Read any PCM (8/16/24/32-bit) or float WAV, averaging channels to mono."""
    data = path.read_bytes()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise BadWav(f"{path}: not RIFF/WAVE")
    fmt, body = _chunks(data, path)
    tag, channels, rate, _, _, bits = _FMT.unpack_from(fmt)
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        (tag,) = struct.unpack_from("<H", fmt, 24)
    if channels < 1 or rate < 1:
        raise BadWav(f"{path}: {channels} channels at {rate} Hz")
    frames = _to_float(body, tag=tag, bits=bits, path=path)
    usable = len(frames) // channels * channels
    mono = frames[:usable].reshape(-1, channels).mean(axis=1)
    return WavAudio(rate=rate, samples=mono)


def _chunks(data: bytes, path: Path) -> tuple[bytes, bytes]:
    fmt: bytes | None = None
    offset = 12
    while offset + _CHUNK.size <= len(data):
        chunk_id, size = _CHUNK.unpack_from(data, offset)
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            if fmt is None or len(fmt) < _FMT.size:
                raise BadWav(f"{path}: data before fmt chunk")
            return fmt, body
        offset += 8 + size + (size & 1)
    raise BadWav(f"{path}: no fmt/data chunk")


def _to_float(body: bytes, *, tag: int, bits: int, path: Path) -> FloatSamples:
    if tag == _FLOAT and bits in (32, 64):
        raw = np.frombuffer(body[: len(body) // (bits // 8) * (bits // 8)], f"<f{bits // 8}")
        return raw.astype(np.float64)
    if tag != _PCM:
        raise BadWav(f"{path}: unsupported format tag {tag:#06x}")
    if bits == 8:
        return (np.frombuffer(body, np.uint8).astype(np.float64) - 128.0) / 128.0
    if bits == 16:
        return np.frombuffer(body[: len(body) // 2 * 2], "<i2").astype(np.float64) / 32768.0
    if bits == 24:
        raw = np.frombuffer(body[: len(body) // 3 * 3], np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        signed = np.where(value >= 1 << 23, value - (1 << 24), value).astype(np.float64)
        scaled: FloatSamples = signed / float(1 << 23)
        return scaled
    if bits == 32:
        return np.frombuffer(body[: len(body) // 4 * 4], "<i4").astype(np.float64) / 2147483648.0
    raise BadWav(f"{path}: unsupported sample width {bits} bits")


def to_pcm16(samples: FloatSamples) -> bytes:
    """Float samples in [-1, 1] to 16-bit little-endian PCM (clipped)."""
    scaled = np.clip(np.round(samples * 32767.0), -32768, 32767)
    return bytes(scaled.astype("<i2").tobytes())


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

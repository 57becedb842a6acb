"""The MP3 of a message (libsndfile's MPEG layer III encoder, through soundfile), made
once and kept beside its WAV file."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import soundfile


def mp3_bytes(wav: Path) -> bytes:
    """Encode the WAV file at ``wav`` (blocking: run it in a thread)."""
    samples, rate = soundfile.read(str(wav), dtype="int16")
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format="MP3")
    return out.getvalue()


def mp3_file(wav: Path) -> Path:
    """``wav``'s MP3 beside it, made the first time it is asked for (blocking)."""
    target = wav.with_suffix(".mp3")
    if not target.is_file():
        partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.part")  # one per writer
        partial.write_bytes(mp3_bytes(wav))
        partial.replace(target)
    return target

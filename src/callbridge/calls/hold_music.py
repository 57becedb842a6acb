"""Music on hold: what callers hear while they wait (queues, a Forward with
``music_on_hold``, a held call).

The music is a file or a folder of files (played one after the other in name order, then
from the first again), or the built-in piece (:mod:`callbridge.media.hold_piece`).  It is
decoded to 8 kHz once, when the server starts; every :meth:`HoldMusic.source` is a new,
endless reader of that one buffer that starts at the beginning."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from callbridge.codecs.formats import FRAME_BYTES, SAMPLE_RATE
from callbridge.media.audiofile import BadAudio, decode_for_telephony
from callbridge.media.hold_piece import render_hold_piece
from callbridge.media.plane import AudioSource

log = logging.getLogger(__name__)

MAX_HOLD_SECONDS = 3600.0  # in all: an hour of 8 kHz PCM is 57.6 MB
MIN_HOLD_SECONDS = 0.1


class HoldMusicError(Exception):
    """The configured music cannot be played (no audio, unreadable, too long)."""


class LoopingPcmSource:
    """Endless 20 ms frames of ``pcm``, from its start, wrapping round at its end."""

    def __init__(self, pcm: bytes) -> None:
        if len(pcm) < FRAME_BYTES:
            raise ValueError("looped audio must be at least one frame long")
        self._pcm = pcm
        self._offset = 0

    def read_frame(self) -> bytes:
        end = self._offset + FRAME_BYTES
        if end <= len(self._pcm):
            frame = self._pcm[self._offset : end]
            self._offset = end % len(self._pcm)
            return frame
        wrapped = end - len(self._pcm)
        frame = self._pcm[self._offset :] + self._pcm[:wrapped]
        self._offset = wrapped
        return frame


class HoldMusic:
    """The server's music on hold; build it with :meth:`built_in` or :meth:`from_path`."""

    def __init__(self, *, pcm: bytes, name: str) -> None:
        if len(pcm) < MIN_HOLD_SECONDS * SAMPLE_RATE * 2:
            raise HoldMusicError(f"{name}: shorter than {MIN_HOLD_SECONDS:g} s")
        self._pcm = pcm
        self.name = name

    @classmethod
    def built_in(cls) -> HoldMusic:
        return cls(pcm=render_hold_piece(), name="the built-in piece")

    @classmethod
    def from_files(cls, files: Sequence[Path], *, name: str) -> HoldMusic:
        """``files`` played in the order given; raises :class:`HoldMusicError`."""
        if not files:
            raise HoldMusicError(f"{name}: no audio file")
        parts: list[bytes] = []
        left = MAX_HOLD_SECONDS
        for path in files:
            try:
                pcm = decode_for_telephony(path, max_seconds=left)
            except (BadAudio, OSError) as exc:
                raise HoldMusicError(f"music on hold {path}: {exc}") from exc
            left -= len(pcm) / (2 * SAMPLE_RATE)
            parts.append(pcm)
        return cls(pcm=b"".join(parts), name=name)

    @property
    def seconds(self) -> float:
        return len(self._pcm) / (2 * SAMPLE_RATE)

    def source(self) -> AudioSource:
        """A new endless source, from the start of the music."""
        return LoopingPcmSource(self._pcm)

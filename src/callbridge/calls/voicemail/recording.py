"""Recording one message: until the caller hangs up, presses ``#``, stays silent for
``silence_seconds``, or reaches ``max_seconds``.

The leg's recorder writes the WAV file as audio arrives; this reads what was written every
``poll`` seconds to measure silence (:class:`SilenceMeter`), so the recorder needs no tap.
A message ended by silence loses the silence that ended it (half a second is kept)."""

from __future__ import annotations

import asyncio
import wave
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from callbridge.calls.recordings import wav_duration
from callbridge.calls.voicemail.silence import SilenceMeter
from callbridge.engine.events import Ended
from callbridge.media.wavfile import HEADER_BYTES

SILENCE_SECONDS = 5.0
POLL_SECONDS = 0.25
KEPT_SILENCE = 0.5
FINISH_KEY = "#"


class RecordingEnd(StrEnum):
    HANGUP = "hangup"
    KEY = "key"
    SILENCE = "silence"
    MAX_LENGTH = "max_length"


@dataclass(frozen=True, kw_only=True)
class Recorded:
    path: Path
    end: RecordingEnd
    duration: float


class RecordingLeg(Protocol):
    """The part of :class:`callbridge.engine.leg.CallLeg` a recording drives."""

    @property
    def ended(self) -> Ended | None: ...

    async def collect_digits(
        self, *, max_digits: int, timeout: float, finish_on_key: str = "#"
    ) -> str: ...

    def flush_digits(self) -> None: ...

    def record(self, path: Path) -> None: ...

    def stop_recording(self) -> None: ...


class _GrowingWav:
    """Reads the PCM appended to a WAV file being written since the last read."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = HEADER_BYTES

    def read_new(self) -> bytes:
        try:
            with self._path.open("rb") as wav:
                wav.seek(self._offset)
                data = wav.read()
        except OSError:
            return b""
        self._offset += len(data)
        return data


async def record_message(
    leg: RecordingLeg,
    *,
    path: Path,
    max_seconds: float,
    silence_seconds: float = SILENCE_SECONDS,
    poll: float = POLL_SECONDS,
) -> Recorded:
    """Record ``leg`` (answered) into ``path``; raises LegEndedError if it has ended."""
    leg.flush_digits()  # keys pressed during the greeting do not end the message
    leg.record(path)
    meter = SilenceMeter()
    growing = _GrowingWav(path)
    try:
        end = await _until_end(leg, meter, growing, max_seconds, silence_seconds, poll)
    finally:
        leg.stop_recording()
    if end is RecordingEnd.SILENCE:
        await asyncio.to_thread(_cut, path, meter.sound_ends_at + KEPT_SILENCE)
    duration = await asyncio.to_thread(wav_duration, path)
    return Recorded(path=path, end=end, duration=duration)


async def _until_end(
    leg: RecordingLeg,
    meter: SilenceMeter,
    growing: _GrowingWav,
    max_seconds: float,
    silence_seconds: float,
    poll: float,
) -> RecordingEnd:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_seconds
    while (remaining := deadline - loop.time()) > 0:
        key = await leg.collect_digits(max_digits=1, timeout=min(poll, remaining), finish_on_key="")
        if leg.ended is not None:
            return RecordingEnd.HANGUP
        if key == FINISH_KEY:
            return RecordingEnd.KEY
        meter.feed(await asyncio.to_thread(growing.read_new))
        if meter.silent_seconds >= silence_seconds:
            return RecordingEnd.SILENCE
    return RecordingEnd.MAX_LENGTH


def _cut(path: Path, seconds: float) -> None:
    """Keep only the first ``seconds`` of the WAV file at ``path``."""
    try:
        with wave.open(str(path), "rb") as wav:
            params = wav.getparams()
            frames = wav.readframes(int(seconds * wav.getframerate()))
        with wave.open(str(path), "wb") as out:
            out.setparams(params)
            out.writeframes(frames)
    except (OSError, wave.Error, EOFError):
        return

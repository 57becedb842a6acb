"""CallRecordings: where a call's Record verbs and ``record=true`` write their WAV files,
and how a finished file becomes a stored recording with a URL."""

from __future__ import annotations

import asyncio
import itertools
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path

from callbridge.callflow.ports import StoredRecording
from callbridge.store.records import RecordingRecord

AddRecording = Callable[[Path, float], Awaitable[RecordingRecord]]


def recording_url(public_url: str, recording_id: int) -> str:
    return f"{public_url.rstrip('/')}/api/v2/recordings/{recording_id}.wav"


def wav_duration(path: Path) -> float:
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate() or 1)
    except (OSError, wave.Error, EOFError):
        return 0.0


class CallRecordings:
    """One per call: files are named ``<CallSid>-<n>.wav`` under ``directory``."""

    def __init__(
        self, *, directory: Path, call_sid: str, public_url: str, add: AddRecording
    ) -> None:
        self._directory = directory
        self._sid = call_sid
        self._public_url = public_url
        self._add = add
        self._numbers = itertools.count(1)

    def new_path(self, leg_id: str) -> Path:
        self._directory.mkdir(parents=True, exist_ok=True)
        return self._directory / f"{self._sid}-{next(self._numbers)}.wav"

    async def publish(self, path: Path) -> StoredRecording:
        duration = await asyncio.to_thread(wav_duration, path)
        record = await self._add(path, duration)
        return StoredRecording(url=recording_url(self._public_url, record.id), duration=duration)

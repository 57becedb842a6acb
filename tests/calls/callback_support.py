"""What the callback tests share: the status callbacks of a leg, waiting for a callback's
outcome, and what a phone heard, frame by frame, in its recording."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from call_world import CallWorld

from audio_analysis import goertzel_power, read_wav_mono, rms
from callbridge.calls.callback_state import CallbackDetail, PlacedCallback
from callbridge.calls.callbacks_service import CallbridgeCallbacks

TONE_RUN = 5
TONE_SHARE = 0.6
RINGBACK = (440.0, 480.0)


def statuses(world: CallWorld, sid: str) -> list[dict[str, str]]:
    return [
        r.form
        for r in world.receiver.on("/status")
        if 200 <= r.status < 300 and r.form["CallSid"] == sid
    ]


async def both_completed(world: CallWorld, placed: PlacedCallback) -> None:
    """Both legs' completed callbacks arrived."""
    sids = (placed.leg_a.sid, placed.leg_b.sid)
    await world.receiver.wait_for(
        lambda: all(any(r["CallStatus"] == "completed" for r in statuses(world, s)) for s in sids),
        timeout=30,
    )


async def finished(
    world: CallWorld, callbacks: CallbridgeCallbacks, placed: PlacedCallback
) -> CallbackDetail:
    """The callback once its outcome (``callback-ended``) is stored."""
    await both_completed(world, placed)
    for _ in range(200):
        detail = await callbacks.get_callback(placed.id, api_key_id=None)
        if detail.ended_by is not None:
            return detail
        await asyncio.sleep(0.05)
    log = [(event.name, dict(event.data)) for event in detail.leg_a.events]
    raise AssertionError(f"the callback recorded no outcome: {detail.status}, A's log {log}")


def _tone_share(frame: npt.NDArray[np.int16], frequencies: Sequence[float]) -> float:
    """How much of the frame's power is at ``frequencies`` (about 1 for those tones alone;
    Goertzel power is A**2/4 for a sine of amplitude A, whose mean power is A**2/2)."""
    power = float(np.mean(frame.astype(np.float64) ** 2))
    return 2 * sum(goertzel_power(frame, f) for f in frequencies) / power


def classify(recording: Path | None, tones: dict[str, Sequence[float]]) -> list[str]:
    """Each 20 ms frame as ``""`` (quiet), the name of the tone that holds in it (most of
    the power at its frequencies for at least :data:`TONE_RUN` frames in a row), or
    ``"speech"`` (loud, no steady tone)."""
    assert recording is not None, "no recording"
    _, data = read_wav_mono(recording)
    kinds: list[str] = []
    for start in range(0, len(data) - 160, 160):
        frame = data[start : start + 160]
        if rms(frame) < 300:
            kinds.append("")
            continue
        tone = next(
            (name for name, freqs in tones.items() if _tone_share(frame, freqs) > TONE_SHARE),
            "speech",
        )
        kinds.append(tone)
    return _short_tones_are_speech(kinds)


def _short_tones_are_speech(kinds: list[str]) -> list[str]:
    """A harmonic of speech may dominate a frame or two; a tone holds far longer."""
    smoothed = list(kinds)
    start = 0
    while start < len(kinds):
        end = start
        while end < len(kinds) and kinds[end] == kinds[start]:
            end += 1
        if kinds[start] not in ("", "speech") and end - start < TONE_RUN:
            smoothed[start:end] = ["speech"] * (end - start)
        start = end
    return smoothed


def tone_start(kinds: list[str], tone: str) -> int:
    """Where ``tone`` starts to hold for a second (the frame count when it never does)."""
    for index in range(len(kinds)):
        if kinds[index] == tone and kinds[index : index + 50].count(tone) >= 45:
            return index
    return len(kinds)

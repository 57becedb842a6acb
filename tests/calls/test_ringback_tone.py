"""The ringback tone: North-American audible ringing (ITU-T E.180, United States entry):
440 Hz + 480 Hz, 2 s on, 4 s off, generated frame by frame."""

from __future__ import annotations

import numpy as np

from audio_analysis import goertzel_power, rms
from callbridge.calls.switch.ringback import RINGBACK_CADENCE, RINGBACK_HZ, ringback_tone
from callbridge.codecs.formats import FRAME_BYTES

FRAMES_PER_SECOND = 50


def test_ringback_is_440_and_480_hz_two_seconds_on_four_off_without_end() -> None:
    source = ringback_tone()
    frames = [source.read_frame() for _ in range(3 * 6 * FRAMES_PER_SECOND)]  # 3 periods
    assert all(frame is not None and len(frame) == FRAME_BYTES for frame in frames)
    loud = [rms(frame) > 1000 for frame in frames if frame is not None]
    period = (RINGBACK_CADENCE[0] + RINGBACK_CADENCE[1]) * FRAMES_PER_SECOND
    on = RINGBACK_CADENCE[0] * FRAMES_PER_SECOND
    assert RINGBACK_CADENCE == (2.0, 4.0)
    assert loud == [i % period < on for i in range(len(loud))]
    sounding = np.frombuffer(
        b"".join(f for f, is_loud in zip(frames, loud, strict=True) if is_loud and f), "<i2"
    )
    second = sounding[:8000]
    for hz in RINGBACK_HZ:
        assert goertzel_power(second, hz) > 100 * goertzel_power(second, 1000.0)
    assert goertzel_power(second, 440.0) > 0.5 * goertzel_power(second, 480.0)
    assert set(RINGBACK_HZ) == {440.0, 480.0}

from __future__ import annotations

import asyncio
from pathlib import Path

from audio_analysis import read_wav_mono
from callbridge.codecs.formats import FRAME_BYTES
from callbridge.media.recorder import WavRecorder
from callbridge.rtp.clock import MediaClock


async def test_one_frame_per_tick_with_silence_in_gaps(tmp_path: Path) -> None:
    clock = MediaClock(interval=0.005)
    path = tmp_path / "sub" / "rec.wav"
    recorder = WavRecorder(path=path, clock=clock)
    ticks: list[int] = []
    counter = clock.subscribe(lambda: ticks.append(1))
    recorder.write(b"\x10\x00" * 160)
    recorder.write(b"\x20\x00" * 100)  # partial frames are re-cut
    recorder.write(b"\x20\x00" * 60)
    for _ in range(400):
        if len(ticks) >= 6:
            break
        await asyncio.sleep(0.005)
    recorder.close()
    counter.close()
    recorder.close()
    rate, samples = read_wav_mono(path)
    assert rate == 8000
    frames = len(samples) * 2 // FRAME_BYTES
    assert abs(frames - len(ticks)) <= 1
    assert samples[0] == 16
    assert samples[160] == 32
    assert not samples[320:].any()
    await clock.close()


async def test_queue_is_bounded(tmp_path: Path) -> None:
    clock = MediaClock(interval=10)
    recorder = WavRecorder(path=tmp_path / "r.wav", clock=clock)
    for _ in range(50):
        recorder.write(bytes(FRAME_BYTES))
    recorder.close()
    _, samples = read_wav_mono(tmp_path / "r.wav")
    assert len(samples) <= 5 * 160
    await clock.close()

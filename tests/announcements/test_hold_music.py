"""HoldMusic: the built-in piece sounds like music (several pitches over time, a sane
level, not a tone), sources are endless and each starts at the start, a folder plays in
name order."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio_analysis import dominant_frequency, rms
from callbridge.calls.hold_music import HoldMusic, HoldMusicError, LoopingPcmSource
from callbridge.codecs.formats import FRAME_BYTES, SAMPLE_RATE
from callbridge.media.hold_piece import render_hold_piece


def frames(source: object, count: int) -> bytes:
    read = source.read_frame  # type: ignore[attr-defined]
    out = [read() for _ in range(count)]
    assert all(frame is not None and len(frame) == FRAME_BYTES for frame in out)
    return b"".join(out)


def semitone(frequency: float) -> int:
    return round(12 * np.log2(frequency / 261.63))


def test_the_built_in_piece_is_music_not_a_tone() -> None:
    pcm = render_hold_piece()
    samples = np.frombuffer(pcm, "<i2").astype(np.float64)
    assert 10 <= len(samples) / SAMPLE_RATE <= 60
    # The loudest pitch of each quarter second: many distinct notes, changing often.
    window = SAMPLE_RATE // 4
    pitches = [
        semitone(dominant_frequency(samples[i : i + window]))
        for i in range(0, len(samples) - window + 1, window)
    ]
    assert len(set(pitches)) >= 8, pitches
    changes = sum(a != b for a, b in itertools.pairwise(pitches))
    assert changes >= len(pitches) // 2, pitches
    # Harmony, not one sine: in any half second, more than one strong spectral peak.
    half = samples[: SAMPLE_RATE // 2] * np.hanning(SAMPLE_RATE // 2)
    spectrum = np.abs(np.fft.rfft(half))
    strong = spectrum > spectrum.max() * 0.1
    middle = spectrum[1:-1]
    peaks = np.flatnonzero(strong[1:-1] & (middle > spectrum[:-2]) & (middle >= spectrum[2:]))
    assert len(peaks) >= 3
    # A sane telephone level: well above silence, well below clipping.
    level_dbfs = 20 * np.log10(rms(pcm) / 32767)
    assert -30 < level_dbfs < -10, level_dbfs
    assert np.abs(samples).max() < 0.9 * 32767
    # Every second sounds (no gap in the loop).
    for start in range(0, len(samples), SAMPLE_RATE):
        assert rms(samples[start : start + SAMPLE_RATE]) > 0.01 * 32767


def test_each_source_is_endless_and_starts_at_the_start() -> None:
    music = HoldMusic.built_in()
    first = music.source()
    opening = frames(first, 50)
    frames(first, int(music.seconds * 50) * 2)  # past its end, twice: still frames
    assert frames(music.source(), 50) == opening
    assert music.seconds == len(render_hold_piece()) / (2 * SAMPLE_RATE)


def test_the_loop_wraps_round_without_losing_samples() -> None:
    pcm = bytes(range(250)) * 2  # 500 bytes: not a whole number of frames
    source = LoopingPcmSource(pcm)
    played = frames(source, 10)
    assert played == (pcm * 7)[: 10 * FRAME_BYTES]


def write_tone(path: Path, frequency: float, seconds: float) -> None:
    t = np.arange(int(16000 * seconds)) / 16000
    soundfile.write(path, 0.4 * np.sin(2 * np.pi * frequency * t), 16000)


def test_files_play_in_the_order_given_then_again(tmp_path: Path) -> None:
    write_tone(tmp_path / "1.flac", 400.0, 0.5)
    write_tone(tmp_path / "2.wav", 800.0, 0.5)
    music = HoldMusic.from_files([tmp_path / "1.flac", tmp_path / "2.wav"], name="moh")
    assert abs(music.seconds - 1.0) < 0.01
    played = np.frombuffer(frames(music.source(), 100), "<i2")  # two seconds
    quarter = SAMPLE_RATE // 4
    heard = [round(dominant_frequency(played[i : i + quarter])) for i in (400, 4400, 8400, 12400)]
    assert heard == [400, 800, 400, 800]


def test_unreadable_music_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(HoldMusicError, match=r"x\.wav"):
        HoldMusic.from_files([bad], name="moh")
    with pytest.raises(HoldMusicError, match="no audio file"):
        HoldMusic.from_files([], name="moh")

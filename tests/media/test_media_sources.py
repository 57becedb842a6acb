from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio_analysis import dominant_frequency, goertzel_power, rms
from callbridge.codecs.formats import FRAME_BYTES
from callbridge.media.audiofile import BadAudio, decode_for_telephony
from callbridge.media.plane import AudioSource
from callbridge.media.sources import (
    AudioFileSource,
    SequenceSource,
    SilenceSource,
    ToneSource,
    dtmf_tones,
)
from callbridge.media.wavfile import wav_header


def _drain(source: AudioSource, limit: int = 10_000) -> list[bytes]:
    frames = []
    while len(frames) < limit and (frame := source.read_frame()) is not None:
        frames.append(frame)
    return frames


def test_tone_has_its_frequency_level_and_length() -> None:
    frames = _drain(ToneSource(frequencies=(1000,), duration_s=0.5, level=0.5))
    assert len(frames) == 25
    assert all(len(f) == FRAME_BYTES for f in frames)
    pcm = b"".join(frames)
    assert dominant_frequency(pcm) == pytest.approx(1000, abs=10)
    assert rms(pcm) == pytest.approx(0.5 * 32767 / np.sqrt(2), rel=0.02)


def test_endless_cadenced_ringback() -> None:
    source = ToneSource(frequencies=(440, 480), duration_s=None, cadence=(0.2, 0.4))
    frames = _drain(source, limit=60)
    assert len(frames) == 60
    on = b"".join(frames[:10])
    assert all(f == bytes(FRAME_BYTES) for f in frames[10:30])
    assert goertzel_power(on, 440) > 100 * goertzel_power(on, 1000)
    assert goertzel_power(on, 480) > 100 * goertzel_power(on, 1000)
    assert frames[30] != bytes(FRAME_BYTES)


def test_silence_and_sequence() -> None:
    source = SequenceSource(
        [SilenceSource(duration_s=0.1), ToneSource(frequencies=(500,), duration_s=0.06)]
    )
    frames = _drain(source)
    assert len(frames) == 8
    assert frames[:5] == [bytes(FRAME_BYTES)] * 5
    assert rms(b"".join(frames[5:])) > 1000


def test_dtmf_tones_pair() -> None:
    pcm = b"".join(_drain(dtmf_tones("5", duration_ms=100, gap_ms=0)))
    assert goertzel_power(pcm, 770) > 50 * goertzel_power(pcm, 697)
    assert goertzel_power(pcm, 1336) > 50 * goertzel_power(pcm, 1209)


def _sox(tmp_path: Path, name: str, *args: str) -> Path:
    out = tmp_path / name
    subprocess.run(["sox", "-n", *args, str(out), "synth", "0.5", "sine", "1000"], check=True)
    return out


@pytest.mark.parametrize(
    "fmt",
    [
        ("-r", "44100", "-c", "2", "-b", "24"),
        ("-r", "16000", "-c", "1", "-b", "16"),
        ("-r", "22050", "-c", "1", "-b", "8"),
        ("-r", "48000", "-c", "1", "-e", "floating-point", "-b", "32"),
        ("-r", "8000", "-c", "1", "-b", "32"),
        ("-r", "6000", "-c", "1", "-b", "16"),
        ("-r", "8000", "-c", "1", "-e", "mu-law"),
        ("-r", "8000", "-c", "1", "-e", "a-law"),
    ],
)
def test_a_wav_of_any_kind_becomes_8k_mono(tmp_path: Path, fmt: tuple[str, ...]) -> None:
    path = _sox(tmp_path, "in.wav", *fmt)
    frames = _drain(AudioFileSource(path))
    assert len(frames) == 25
    pcm = b"".join(frames)
    assert dominant_frequency(pcm) == pytest.approx(1000, abs=10)
    assert rms(pcm[FRAME_BYTES:-FRAME_BYTES]) > 0.5 * 32767 / np.sqrt(2) * 0.9


def test_resampling_removes_content_above_4k(tmp_path: Path) -> None:
    path = tmp_path / "hi.wav"
    subprocess.run(
        ["sox", "-n", "-r", "44100", "-b", "16", str(path), "synth", "0.5", "sine", "6000"],
        check=True,
    )
    pcm = b"".join(_drain(AudioFileSource(path)))
    assert rms(pcm) < 200  # 6 kHz would alias to 2 kHz at full level without the low-pass


def _tone_file(path: Path, fmt: str, *, rate: int = 44100, channels: int = 2) -> Path:
    """0.5 s of a 1 kHz tone at half scale, written by libsndfile in ``fmt``."""
    t = np.arange(rate // 2) / rate
    tone = 0.5 * np.sin(2 * np.pi * 1000 * t)
    soundfile.write(path, np.repeat(tone[:, None], channels, axis=1), rate, format=fmt)
    return path


@pytest.mark.parametrize(("fmt", "rate"), [("MP3", 44100), ("OGG", 48000), ("FLAC", 16000)])
def test_compressed_formats_become_8k_mono(tmp_path: Path, fmt: str, rate: int) -> None:
    path = _tone_file(tmp_path / f"tone.{fmt.lower()}", fmt, rate=rate)
    pcm = b"".join(_drain(AudioFileSource(path)))
    assert len(pcm) // FRAME_BYTES == pytest.approx(25, abs=2)  # encoder padding
    assert dominant_frequency(pcm) == pytest.approx(1000, abs=10)
    middle = pcm[5 * FRAME_BYTES : -5 * FRAME_BYTES]
    assert rms(middle) > 0.5 * 32767 / np.sqrt(2) * 0.8


def test_bytes_in_memory_decode_like_a_file(tmp_path: Path) -> None:
    path = _tone_file(tmp_path / "tone.mp3", "MP3")
    from_memory = decode_for_telephony(io.BytesIO(path.read_bytes()), name="tone.mp3")
    assert from_memory == decode_for_telephony(path)


def test_audio_longer_than_allowed_is_refused(tmp_path: Path) -> None:
    path = _sox(tmp_path, "long.wav", "-r", "8000", "-c", "1", "-b", "16")
    assert len(decode_for_telephony(path, max_seconds=0.5)) == 8000  # 0.5 s: allowed
    with pytest.raises(BadAudio, match=r"more than 0\.4 s"):
        decode_for_telephony(path, max_seconds=0.4)
    mp3 = _tone_file(tmp_path / "long.mp3", "MP3")
    with pytest.raises(BadAudio):
        decode_for_telephony(mp3, max_seconds=0.2)


@pytest.mark.parametrize(
    "body",
    [
        b"hello",
        b"<?xml version='1.0'?><Response/>",
        wav_header(rate=8000, data_bytes=0)[:36],
        b"RIFF\xff\xff\xff\x7fWAVEfmt " + bytes(200),
        bytes(4096),
    ],
)
def test_what_is_not_audio_is_refused(tmp_path: Path, body: bytes) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(body)
    with pytest.raises(BadAudio, match=r"^bad\.wav: "):
        AudioFileSource(bad)

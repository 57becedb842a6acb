from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from audio_analysis import read_wav_mono, rms
from callbridge.media.tts import Tts, TtsError, UnknownVoice, parse_voices

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


async def test_speech_is_8k_mono_with_energy_and_cached(tmp_path: Path) -> None:
    tts = Tts(cache_dir=tmp_path / "cache")
    path = await tts.synthesize("-n Hello, this is Callbridge.", "en-us")
    rate, samples = read_wav_mono(path)
    assert rate == 8000
    assert len(samples) > 8000 * 0.8
    assert rms(samples) > 500
    mtime = path.stat().st_mtime_ns
    again = await tts.synthesize("-n Hello, this is Callbridge.", "en-us")
    assert again == path
    assert again.stat().st_mtime_ns == mtime
    other = await tts.synthesize("-n Hello, this is Callbridge.", "en-gb")
    assert other != path
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir()) == [".wav", ".wav"]


async def test_voices_and_unknown_voice(tmp_path: Path) -> None:
    tts = Tts(cache_dir=tmp_path)
    voices = await tts.voices()
    us = next(v for v in voices if v.id == "en-us")
    assert us.language == "en-us"
    assert "English" in us.name
    with pytest.raises(UnknownVoice):
        await tts.synthesize("hi", "xx-nope")


async def test_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(TtsError):
        await Tts(cache_dir=tmp_path, espeak_binary="/nonexistent/espeak").voices()


def test_parse_voices() -> None:
    listing = (
        "Pty Language       Age/Gender VoiceName          File                 Other Languages\n"
        " 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)\n"
    )
    [voice] = parse_voices(listing)
    assert (voice.id, voice.name, voice.language) == ("en-us", "English_(America)", "en-us")

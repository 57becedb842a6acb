"""AnnouncementLibrary: configured text (espeak-ng, rendered once) and files, uploaded WAVs,
one id space, clear errors; <Play>announcement:ID</Play> through AnnouncementAudio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio_analysis import dominant_frequency, rms
from callbridge.callflow.errors import FetchError
from callbridge.calls.announcements import AnnouncementLibrary, UnknownAnnouncement
from callbridge.calls.announcements.errors import AnnouncementUnplayable
from callbridge.calls.announcements.library import ConfiguredAnnouncement
from callbridge.calls.announcements.play import AnnouncementAudio
from callbridge.codecs.formats import FRAME_BYTES, SAMPLE_RATE
from callbridge.media.plane import AudioSource
from callbridge.media.sources import ToneSource
from callbridge.media.tts import Tts


class Uploads:
    """UploadedAudio as a dict of WAV files (SharedUploads has its own tests)."""

    def __init__(self) -> None:
        self.files: dict[str, Path] = {}

    def known(self, announcement_id: str) -> bool:
        return announcement_id in self.files

    async def path_of(self, announcement_id: str) -> Path | None:
        return self.files.get(announcement_id)


class CountingTts:
    """The real espeak-ng front end, counting what it is asked to speak."""

    def __init__(self, cache_dir: Path) -> None:
        self.inner = Tts(cache_dir=cache_dir)
        self.asked: list[tuple[str, str]] = []

    async def synthesize(self, text: str, voice: str) -> Path:
        self.asked.append((text, voice))
        return await self.inner.synthesize(text, voice)


def drain(source: AudioSource, limit: int = 100_000) -> bytes:
    frames = []
    for _ in range(limit):
        frame = source.read_frame()
        if frame is None:
            break
        assert len(frame) == FRAME_BYTES
        frames.append(frame)
    return b"".join(frames)


def tone_file(path: Path, frequency: float, *, seconds: float = 1.0, rate: int = 44100) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    stereo = np.stack([0.4 * np.sin(2 * np.pi * frequency * t)] * 2, axis=1)
    soundfile.write(path, stereo, rate)
    return path


async def test_text_is_spoken_once_and_files_are_decoded_to_8_khz(tmp_path: Path) -> None:
    tts = CountingTts(tmp_path / "tts")
    mp3 = tone_file(tmp_path / "welcome.mp3", 700.0)
    library = AnnouncementLibrary(
        configured=[
            ConfiguredAnnouncement(id="7684", text="Thank you for calling."),
            ConfiguredAnnouncement(id="de", text="Vielen Dank", voice="de"),
            ConfiguredAnnouncement(id="welcome", file=mp3),
        ],
        tts=tts,
    )
    await library.prepare()
    assert sorted(tts.asked) == [("Thank you for calling.", "en-us"), ("Vielen Dank", "de")]
    speech = drain(await library.source("7684"))
    assert 0.8 < len(speech) / (2 * SAMPLE_RATE) < 5  # a short sentence
    assert rms(speech) > 300
    again = drain(await library.source("7684"))
    assert again == speech
    assert len(tts.asked) == 2  # rendered once, at prepare
    tone = drain(await library.source("welcome"))
    assert abs(len(tone) / (2 * SAMPLE_RATE) - 1.0) < 0.03
    assert abs(dominant_frequency(tone[1600:-1600]) - 700.0) < 10
    assert library.exists("7684")
    assert library.exists("welcome")
    assert not library.exists("nope")
    with pytest.raises(UnknownAnnouncement):
        await library.source("nope")


async def test_a_voice_espeak_does_not_know_fails_prepare(tmp_path: Path) -> None:
    library = AnnouncementLibrary(
        configured=[ConfiguredAnnouncement(id="x", text="hello", voice="klingon")],
        tts=Tts(cache_dir=tmp_path),
    )
    with pytest.raises(AnnouncementUnplayable, match=r"'x'.*klingon"):
        await library.prepare()


async def test_uploaded_announcements_share_the_id_space(tmp_path: Path) -> None:
    library = AnnouncementLibrary(
        configured=[ConfiguredAnnouncement(id="4", text="greeting")], tts=Tts(cache_dir=tmp_path)
    )
    wav = tone_file(tmp_path / "up.wav", 500.0, rate=8000)
    uploads = Uploads()
    library.use_uploads(uploads)
    uploads.files["4"] = uploads.files["up"] = wav
    assert (await library.pcm("4")) != (await library.pcm("up"))  # the configured one wins
    assert library.exists("up")
    assert abs(dominant_frequency(drain(await library.source("up"))) - 500.0) < 10
    wav.unlink()  # deleted under it: unknown, not a crash
    with pytest.raises(UnknownAnnouncement):
        await library.source("up")
    del uploads.files["up"]
    assert not library.exists("up")
    with pytest.raises(UnknownAnnouncement):
        await library.source("up")


class UrlAudio:
    def __init__(self) -> None:
        self.urls: list[str] = []

    async def load(self, url: str) -> AudioSource:
        self.urls.append(url)
        return ToneSource(frequencies=(300.0,), duration_s=0.1)

    def beep(self) -> AudioSource:
        return ToneSource(frequencies=(1000.0,), duration_s=0.25)


async def test_play_of_announcement_id_comes_from_the_library(tmp_path: Path) -> None:
    library = AnnouncementLibrary(configured=[], tts=Tts(cache_dir=tmp_path))
    uploads = Uploads()
    uploads.files["hold"] = tone_file(tmp_path / "h.wav", 900.0, rate=8000)
    library.use_uploads(uploads)
    urls = UrlAudio()
    audio = AnnouncementAudio(inner=urls, library=library)
    played = drain(await audio.load("announcement:hold"))
    assert abs(dominant_frequency(played) - 900.0) < 10
    await audio.load("https://example.test/a.wav")
    assert urls.urls == ["https://example.test/a.wav"]
    with pytest.raises(FetchError, match="no announcement 'gone'"):
        await audio.load("announcement:gone")

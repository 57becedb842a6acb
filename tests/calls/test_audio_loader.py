"""HttpAudioLoader and AudioCache: <Play> audio fetched from a real HTTP server, decoded once,
fetched again once stale, a stale copy played when the URL fails, the cache kept in size."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio_analysis import dominant_frequency
from callbridge.callflow.errors import FetchError
from callbridge.calls.audio import HttpAudioLoader
from callbridge.calls.audio_cache import AudioCache
from callbridge.codecs.formats import FRAME_BYTES, SAMPLE_RATE
from callbridge.httpclient.client import HttpClient
from callbridge.media.plane import AudioSource
from webhook_receiver import LOOPBACK_ALLOWED, Receiver

TTL = 300.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def mp3_tone(frequency: float, seconds: float = 0.5, rate: int = 44100) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    out = io.BytesIO()
    soundfile.write(out, 0.5 * np.sin(2 * np.pi * frequency * t), rate, format="MP3")
    return out.getvalue()


def pcm_of(source: AudioSource) -> bytes:
    frames = []
    while (frame := source.read_frame()) is not None:
        frames.append(frame)
    return b"".join(frames)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def loader(tmp_path: Path, clock: Clock) -> AsyncIterator[HttpAudioLoader]:
    cache = AudioCache(directory=tmp_path / "audio", ttl=TTL, max_bytes=1 << 20, clock=clock)
    async with HttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0) as client:
        yield HttpAudioLoader(client=client, cache=cache)


async def test_an_mp3_is_fetched_once_and_played_at_8k(
    loader: HttpAudioLoader, receiver: Receiver
) -> None:
    receiver.files["/hold.mp3"] = mp3_tone(440.0)
    first = pcm_of(await loader.load(receiver.url("/hold.mp3")))
    second = pcm_of(await loader.load(receiver.url("/hold.mp3")))
    assert len(receiver.on("/hold.mp3")) == 1
    assert first == second
    assert len(first) // FRAME_BYTES == pytest.approx(25, abs=2)
    assert dominant_frequency(first) == pytest.approx(440, abs=10)


async def test_a_stale_copy_is_fetched_again_and_replaced(
    loader: HttpAudioLoader, receiver: Receiver, clock: Clock
) -> None:
    url = receiver.url("/prompt.mp3")
    receiver.files["/prompt.mp3"] = mp3_tone(440.0)
    await loader.load(url)
    receiver.files["/prompt.mp3"] = mp3_tone(1000.0)  # the customer replaced the prompt
    clock.now += TTL - 1
    assert dominant_frequency(pcm_of(await loader.load(url))) == pytest.approx(440, abs=10)
    clock.now += 2
    assert dominant_frequency(pcm_of(await loader.load(url))) == pytest.approx(1000, abs=10)
    assert len(receiver.on("/prompt.mp3")) == 2


async def test_a_stale_copy_plays_when_its_url_fails(
    loader: HttpAudioLoader, receiver: Receiver, clock: Clock
) -> None:
    url = receiver.url("/prompt.mp3")
    receiver.files["/prompt.mp3"] = mp3_tone(440.0)
    await loader.load(url)
    receiver.status = 503
    clock.now += TTL + 1
    assert dominant_frequency(pcm_of(await loader.load(url))) == pytest.approx(440, abs=10)
    with pytest.raises(FetchError, match="503"):  # never fetched: nothing to fall back on
        await loader.load(receiver.url("/other.mp3"))


async def test_what_is_not_audio_is_a_fetch_error_and_not_cached(
    loader: HttpAudioLoader, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.documents["/page.mp3"] = "<html>not found</html>"
    with pytest.raises(FetchError, match="is not playable audio"):
        await loader.load(receiver.url("/page.mp3"))
    with pytest.raises(FetchError, match="is not playable audio"):
        await loader.load(receiver.url("/page.mp3"))
    assert len(receiver.on("/page.mp3")) == 2
    assert list((tmp_path / "audio").glob("*.wav")) == []


def test_the_cache_removes_the_least_recently_used_beyond_its_size(
    tmp_path: Path, clock: Clock
) -> None:
    second = SAMPLE_RATE * 2  # bytes of one second of 8 kHz PCM
    cache = AudioCache(directory=tmp_path, ttl=TTL, max_bytes=3 * second + 500, clock=clock)
    for name in ("a", "b", "c"):
        cache.store(name, bytes(second))
        clock.now += 1
    found = cache.find("a")  # a is used again: b is now the least recently used
    assert found is not None
    assert found.fresh
    clock.now += 1
    cache.store("d", bytes(second))
    assert sorted(p.stem for p in tmp_path.glob("*.wav")) == ["a", "c", "d"]
    assert cache.find("b") is None
    cache.store("e", bytes(5 * second))  # larger than the cache: kept alone
    assert [p.stem for p in tmp_path.glob("*.wav")] == ["e"]
    assert not any(name.endswith(".part") for name in os.listdir(tmp_path))

from __future__ import annotations

import asyncio
import gc
import itertools
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest
from rtp_capture import RtpCapture

from audio_analysis import dominant_frequency, goertzel_power, read_wav_mono, rms
from callbridge.codecs.formats import PCMA, PCMU, Codec
from callbridge.codecs.stream import RemoteMedia
from callbridge.media.inprocess import ForeignEndpoint, InProcessEndpoint, InProcessMediaPlane
from callbridge.media.plane import MediaPortsExhausted
from callbridge.media.sources import ToneSource

TONE_RMS = 0.3 * 32767 / 2**0.5


def connect(
    a: InProcessEndpoint, b: InProcessEndpoint, codec: Codec = PCMU, dtmf: int | None = 101
) -> None:
    a.set_remote(RemoteMedia("127.0.0.1", b.local_port, codec, dtmf))
    b.set_remote(RemoteMedia("127.0.0.1", a.local_port, codec, dtmf))


async def until(predicate: Callable[[], bool], *, attempts: int = 300) -> None:
    """Poll ``predicate`` every 10 ms; fail after ``attempts`` polls."""
    for _ in range(attempts):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def voiced(samples: object) -> object:
    """The recording without the leading/trailing silence."""
    import numpy as np

    x = np.asarray(samples)
    loud = np.flatnonzero(np.abs(x) > 100)
    return x[loud[0] + 160 : loud[-1] - 160] if len(loud) else x[:0]


async def test_tone_played_by_one_is_recorded_by_the_other(
    plane: InProcessMediaPlane, tmp_path: Path
) -> None:
    a, b = await plane.allocate(), await plane.allocate()
    connect(a, b)
    b.start_recording(tmp_path / "rec.wav")
    finished = await a.play(ToneSource(frequencies=(1000,), duration_s=0.4))
    await asyncio.sleep(0.06)
    b.stop_recording()
    assert finished is True
    assert b.packets_received >= 20  # the 20 frames of tone, then silence
    rate, samples = read_wav_mono(tmp_path / "rec.wav")
    assert rate == 8000
    tone = voiced(samples)
    assert len(tone) > 0.3 * 8000
    assert dominant_frequency(tone, candidates=range(200, 3800, 50)) == 1000
    assert rms(tone) == pytest.approx(TONE_RMS, rel=0.05)


async def test_stop_playback_returns_false(plane: InProcessMediaPlane) -> None:
    a, b = await plane.allocate(), await plane.allocate()
    connect(a, b)
    playing = asyncio.ensure_future(a.play(ToneSource(frequencies=(440,), duration_s=None)))
    await until(lambda: b.packets_received >= 2)
    a.stop_playback()
    assert await playing is False


async def test_the_stream_goes_on_with_silence_once_a_leg_has_sent(
    plane: InProcessMediaPlane, tmp_path: Path
) -> None:
    """Between prompts (and while the application thinks) the peer keeps getting RTP, so
    its RTP timeout does not end the call; before anything was sent, nothing is."""
    a, b = await plane.allocate(), await plane.allocate()
    connect(a, b)
    await asyncio.sleep(0.1)
    assert b.packets_received == 0
    await a.play(ToneSource(frequencies=(440,), duration_s=0.1))
    await asyncio.sleep(0.05)  # the last tone frame is in
    b.start_recording(tmp_path / "after.wav")
    count = b.packets_received
    await asyncio.sleep(0.2)
    b.stop_recording()
    assert b.packets_received >= count + 5
    _, samples = read_wav_mono(tmp_path / "after.wav")
    assert len(samples) > 0
    assert rms(samples) < 10


async def test_an_answered_leg_streams_silence_before_anything_is_played(
    plane: InProcessMediaPlane,
) -> None:
    """An application that starts with a pause (or waits for its webhook) still keeps the
    peer's RTP timeout and NAT binding alive from the answer on."""
    a, b = await plane.allocate(), await plane.allocate()
    connect(a, b)
    a.keep_alive()  # what the leg does when it is answered
    await until(lambda: b.packets_received >= 5)
    assert a.packets_sent >= 5
    await asyncio.sleep(0.1)
    assert b.packets_sent == 0  # b was never answered nor played anything


async def test_dtmf_digits_arrive_exactly_once(plane: InProcessMediaPlane) -> None:
    a, b = await plane.allocate(), await plane.allocate()
    connect(a, b)
    digits: list[str] = []
    b.on_dtmf(digits.append)
    await a.send_dtmf("19*#AD", duration_ms=40, gap_ms=20)
    await until(lambda: len(digits) == 6)
    await asyncio.sleep(0.05)
    assert "".join(digits) == "19*#AD"


async def test_dtmf_without_telephone_event_is_sent_in_band(
    plane: InProcessMediaPlane, tmp_path: Path
) -> None:
    a, b = await plane.allocate(), await plane.allocate()
    connect(a, b, dtmf=None)
    b.start_recording(tmp_path / "dtmf.wav")
    await a.send_dtmf("5", duration_ms=200, gap_ms=0)
    await asyncio.sleep(0.06)
    b.stop_recording()
    _, samples = read_wav_mono(tmp_path / "dtmf.wav")
    assert goertzel_power(samples, 770) > 20 * goertzel_power(samples, 697)
    assert goertzel_power(samples, 1336) > 20 * goertzel_power(samples, 1209)


async def _bridged(
    plane: InProcessMediaPlane, x_codec: Codec, y_codec: Codec
) -> tuple[InProcessEndpoint, InProcessEndpoint, InProcessEndpoint, InProcessEndpoint]:
    x, a, b, y = [await plane.allocate() for _ in range(4)]
    connect(x, a, x_codec)
    connect(b, y, y_codec, dtmf=96)
    plane.bridge(a, b)
    return x, a, b, y


@pytest.mark.parametrize(("x_codec", "y_codec"), [(PCMU, PCMU), (PCMU, PCMA)])
async def test_bridge_relays_tone_and_dtmf_both_ways(
    plane: InProcessMediaPlane, tmp_path: Path, x_codec: Codec, y_codec: Codec
) -> None:
    x, a, _b, y = await _bridged(plane, x_codec, y_codec)
    y.start_recording(tmp_path / "y.wav")
    x.start_recording(tmp_path / "x.wav")
    a.start_recording(tmp_path / "a.wav")  # recording keeps working while bridged
    x_digits: list[str] = []
    y_digits: list[str] = []
    x.on_dtmf(x_digits.append)
    y.on_dtmf(y_digits.append)
    await asyncio.gather(
        x.play(ToneSource(frequencies=(1000,), duration_s=0.3)),
        y.play(ToneSource(frequencies=(600,), duration_s=0.3)),
    )
    await asyncio.gather(x.send_dtmf("12", duration_ms=40, gap_ms=20), y.send_dtmf("#"))
    await until(lambda: len(x_digits) == 1 and len(y_digits) == 2)
    await asyncio.sleep(0.06)
    for endpoint in (x, y, a):
        endpoint.stop_recording()
    assert (x_digits, y_digits) == (["#"], ["1", "2"])
    for name, freq in (("y", 1000), ("x", 600), ("a", 1000)):
        _, samples = read_wav_mono(tmp_path / f"{name}.wav")
        tone = voiced(samples)
        assert dominant_frequency(tone, candidates=range(200, 3800, 50)) == freq, name
        assert rms(tone) == pytest.approx(TONE_RMS, rel=0.1), name


async def test_peer_sees_one_continuous_stream_across_prompt_and_bridge(
    plane: InProcessMediaPlane,
) -> None:
    x, a, b = [await plane.allocate() for _ in range(3)]
    connect(x, a)
    capture = await RtpCapture.open()
    b.set_remote(RemoteMedia("127.0.0.1", capture.port, PCMA, 101))
    assert await b.play(ToneSource(frequencies=(400,), duration_s=0.1)) is True
    plane.bridge(a, b)
    await x.play(ToneSource(frequencies=(1000,), duration_s=0.2))
    await x.send_dtmf("3", duration_ms=40, gap_ms=20)
    await until(lambda: len(capture.packets) >= 5 + 10 + 5)
    plane.unbridge(a)
    assert await b.play(ToneSource(frequencies=(400,), duration_s=0.06)) is True
    await until(lambda: len(capture.packets) >= 5 + 10 + 5 + 3)
    headers = capture.headers()
    capture.close()
    assert {h.ssrc for h in headers} == {b.session.ssrc}
    seqs = [h.sequence for h in headers]
    assert all((s2 - s1) & 0xFFFF == 1 for s1, s2 in itertools.pairwise(seqs))
    assert [h.payload_type for h in headers] == [8] * 15 + [101] * 5 + [8] * 3
    assert [i for i, h in enumerate(headers) if h.marker] == [0, 5, 15, 20]
    stamps = [h.timestamp for h in headers]
    assert all((t2 - t1) & 0xFFFFFFFF < 2**31 for t1, t2 in itertools.pairwise(stamps))
    assert len({h.timestamp for h in headers[15:20]}) == 1


async def test_bridge_stops_playback_and_refuses_foreign_endpoints(
    plane: InProcessMediaPlane,
) -> None:
    a, b, c = [await plane.allocate() for _ in range(3)]
    connect(a, c)
    playing = asyncio.ensure_future(a.play(ToneSource(frequencies=(440,), duration_s=None)))
    await until(lambda: c.packets_received > 0)
    plane.bridge(a, b)
    assert await playing is False
    assert await a.play(ToneSource(frequencies=(440,), duration_s=1)) is False
    with pytest.raises(ForeignEndpoint):
        plane.bridge(a, a)
    other = InProcessMediaPlane(
        host="127.0.0.1", port_start=a.local_port + 1000, port_end=a.local_port + 1003
    )
    stranger = await other.allocate()
    with pytest.raises(ForeignEndpoint):
        plane.bridge(a, stranger)
    await other.close()
    plane.unbridge(a)
    plane.unbridge(a)
    assert a.bridge is None
    assert b.bridge is None


async def test_allocate_exhausts_and_close_returns_ports() -> None:
    plane = InProcessMediaPlane(host="127.0.0.1", port_start=47210, port_end=47213)
    first = await plane.allocate()
    second = await plane.allocate()
    with pytest.raises(MediaPortsExhausted):
        await plane.allocate()
    await first.close()
    third = await plane.allocate()
    assert third.local_port == first.local_port
    assert second.local_host == "127.0.0.1"
    await plane.close()


async def test_plane_lets_go_of_closed_endpoints(plane: InProcessMediaPlane) -> None:
    """A closed endpoint (and its RTP session) is freed, not kept by the plane per call."""
    a, b = await plane.allocate(), await plane.allocate()
    plane.bridge(a, b)
    await a.close()
    plane.unbridge(a)  # still recognised as this plane's after close
    plane.unbridge(b)
    ref = weakref.ref(a)
    del a
    gc.collect()
    assert ref() is None


async def test_close_while_playing_and_recording(
    plane: InProcessMediaPlane, tmp_path: Path
) -> None:
    a, b = await plane.allocate(), await plane.allocate()
    connect(a, b)
    b.start_recording(tmp_path / "r.wav")
    playing = asyncio.ensure_future(a.play(ToneSource(frequencies=(440,), duration_s=None)))
    await until(lambda: b.packets_received > 2)
    await a.close()
    await b.close()
    assert await playing is False
    rate, _ = read_wav_mono(tmp_path / "r.wav")
    assert rate == 8000
    assert plane.clock.subscribers == 0

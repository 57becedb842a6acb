"""Extension dialling on the switch: an unanswered caller gets its target's progress —
183 with our SDP and the target's early media relayed — before the answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from engine_setup import ENGINE_HOST, ENGINE_PORT, TRUNK_HOST, TRUNK_PORT, USERS

from audio_analysis import goertzel_power, read_wav_mono, rms
from callbridge.calls.extensions import ExtensionDialer
from callbridge.codecs.g711 import ulaw_encode
from callbridge.engine.engine import Engine
from callbridge.engine.events import EarlyMedia
from callbridge.media.inprocess import InProcessMediaPlane
from peers.conftest import BaresipFactory
from peers.phones import registered_phone
from peers.sipp import SCENARIOS, SippRun

pytestmark = pytest.mark.peers

EARLY_TONE = 1400.0
WAIT = 10.0


def early_media_scenario(workdir: Path, seconds: float) -> Path:
    """The early-media UAS scenario playing ``seconds`` of EARLY_TONE (raw mu-law)."""
    t = np.arange(int(8000 * seconds)) / 8000
    pcm = (0.3 * 32767 * np.sin(2 * np.pi * EARLY_TONE * t)).astype("<i2").tobytes()
    audio = workdir / "early.ulaw"
    audio.write_bytes(ulaw_encode(pcm))
    scenario = workdir / "uas_early_media.xml"
    text = (SCENARIOS / "uas_early_media.xml").read_text()
    scenario.write_text(text.replace("EARLY_AUDIO", str(audio)))
    return scenario


def tone_frames(recording: Path | None, frequency: float) -> int:
    assert recording is not None, "no recording"
    _, samples = read_wav_mono(recording)
    count = 0
    for start in range(0, len(samples) - 160, 160):
        frame = samples[start : start + 160]
        if rms(frame) > 500 and goertzel_power(frame, frequency) > 20 * goertzel_power(
            frame, frequency * 1.37
        ):
            count += 1
    return count


async def test_a_phone_calling_a_number_hears_the_carrier_early_media(
    engine: Engine, baresip: BaresipFactory, tmp_path: Path
) -> None:
    engine.set_incoming_handler(ExtensionDialer(engine=engine))
    users = dict(USERS)
    phone = await registered_phone(
        baresip,
        "1001",
        registrar=f"{ENGINE_HOST}:{ENGINE_PORT}",
        password=users["1001"],
        timeout=WAIT,
        tone_hz=600.0,
    )
    carrier = SippRun(
        early_media_scenario(tmp_path, 2.0),
        workdir=tmp_path / "sipp",
        host=TRUNK_HOST,
        port=TRUNK_PORT,
        calls=1,
        pause_ms=2500,
    )
    async with carrier:
        await phone.dial(f"sip:15550123@{ENGINE_HOST}:{ENGINE_PORT}")
        await phone.wait_event("CALL_ESTABLISHED", timeout=WAIT)
        caller = next(leg for leg in engine.legs.values() if leg.direction.value == "inbound")
        assert any(isinstance(event, EarlyMedia) for event in caller.history), caller.history
        await asyncio.sleep(0.5)
        await phone.hangup()
        await phone.wait_event("CALL_CLOSED", timeout=WAIT)
        result = await carrier.wait(timeout=WAIT)
    assert result.successful == 1, carrier.log_tail()
    # The tone was sent before the carrier's 200 only (then nothing): early media.
    assert tone_frames(phone.recorded_wav, EARLY_TONE) > 50
    plane = engine.media
    assert isinstance(plane, InProcessMediaPlane)
    for _ in range(250):
        if not engine.legs and not plane.pool.leased:
            break
        await asyncio.sleep(0.02)
    assert not engine.legs
    assert not plane.pool.leased

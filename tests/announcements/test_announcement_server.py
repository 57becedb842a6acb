"""The media library on the real server (``callbridge serve``, uvloop, the HTTP worker): an
MP3 uploaded through the API is played by ``<Play>announcement:ID</Play>`` to a baresip
phone, which hears its tone; a configured announcement is listed beside it."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile

from audio_analysis import dominant_frequency, read_wav_mono, rms
from peers.conftest import BaresipFactory
from peers.net import free_tcp_port
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

KEY = "announcement-server-key-0123456789"
SIP_PORT = 5200
RTP_PORTS = (47000, 47099)
PHONE_RTP = (47100, 47199)
TONE_HZ = 700.0


def mp3_tone(frequency: float, seconds: float = 2.0, rate: int = 44100) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    out = io.BytesIO()
    soundfile.write(out, 0.5 * np.sin(2 * np.pi * frequency * t), rate, format="MP3")
    return out.getvalue()


async def test_an_uploaded_announcement_is_heard_by_the_phone(
    tmp_path: Path, baresip: BaresipFactory
) -> None:
    phone = await baresip("customer", rtp_ports=PHONE_RTP)
    receiver = Receiver()
    receiver.documents["/app"] = "<Response><Play>announcement:welcome</Play><Hangup/></Response>"
    await receiver.start()
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=RTP_PORTS,
        node="announcement-test",
        api_key=KEY,
        more='[[announcements]]\nid = "7684"\ntext = "Thank you for calling."\n',
    )
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as api:
            uploaded = await api.post(
                "/api/v2/announcements",
                files={"file": ("welcome.mp3", mp3_tone(TONE_HZ))},
                data={"id": "welcome"},
            )
            assert uploaded.status_code == 201, uploaded.text
            listed = (await api.get("/api/v2/announcements")).json()["announcements"]
            assert [(a["id"], a["origin"]) for a in listed] == [
                ("7684", "configured"),
                ("welcome", "uploaded"),
            ]
            created = await api.post(
                "/api/v2/calls",
                data={"to": phone.uri, "from": "15550001", "url": receiver.url("/app")},
            )
            assert created.status_code == 201, created.text
            await phone.wait_event("CALL_INCOMING", timeout=15)
            await asyncio.sleep(0.3)
            await phone.answer()
            await phone.wait_event("CALL_CLOSED", timeout=30)
    finally:
        await server.stop()
        await receiver.stop()
    assert (tmp_path / "announcements" / "welcome.wav").is_file()
    assert phone.recorded_wav is not None
    _, heard = read_wav_mono(phone.recorded_wav)
    frames = [heard[i : i + 160] for i in range(0, len(heard) - 160, 160)]
    loud = [f for f in frames if rms(f) > 300]
    assert len(loud) > 75, "the phone heard less than 1.5 s of the 2 s announcement"
    at_tone = [f for f in loud if dominant_frequency(f) == pytest.approx(TONE_HZ, abs=25)]
    assert len(at_tone) > 0.9 * len(loud)

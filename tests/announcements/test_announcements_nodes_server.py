"""Uploaded announcements across two nodes: two ``callbridge serve`` processes on one
database (a SQLite file, and PostgreSQL), each with its own announcements folder.

An MP3 uploaded on A is listed on B, and a call B places plays it with
``<Play>announcement:welcome</Play>``: the baresip phone hears its 700 Hz tone (B cached
the audio on first use).  Deleted on A: B answers 404 for it, and the next call B places
plays nothing of it (its cache file is gone)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from test_announcement_server import mp3_tone

from audio_analysis import dominant_frequency, read_wav_mono, rms
from peers.baresip import Baresip
from peers.conftest import BaresipFactory
from peers.net import free_tcp_port
from server_database import DATABASES, database_url_for
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

KEY = "announcement-nodes-key-0123456789ab"
SIP_PORTS = {"a": 5650, "b": 5651}
RTP_PORTS = {"a": (52570, 52579), "b": (52580, 52589)}
PHONE_RTP = (52590, 52599)
TONE_HZ = 700.0
PLAY = "<Response><Play>announcement:welcome</Play><Hangup/></Response>"


@pytest.fixture(params=DATABASES)
async def database_url(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The nodes' one database: a SQLite file, or a fresh PostgreSQL database."""
    async with database_url_for(request, tmp_path, "shared.db") as url:
        yield url


def start_node(tmp_path: Path, name: str, database_url: str) -> Server:
    directory = tmp_path / name
    directory.mkdir()
    http_port = free_tcp_port()
    config = write_config(
        directory,
        sip_port=SIP_PORTS[name],
        http_port=http_port,
        rtp_ports=RTP_PORTS[name],
        node=f"announcement-node-{name}",
        api_key=KEY,
        database_url=database_url,
    )
    return Server(config, http_port, directory / "server.log")


async def call_and_listen(api: httpx.AsyncClient, phone: Baresip, url: str) -> list[float]:
    """B calls the phone with the Play document; the dominant frequency of each loud
    20 ms frame the phone heard."""
    created = await api.post(
        "/api/v2/calls", data={"to": phone.uri, "from": "15550001", "url": url}
    )
    assert created.status_code == 201, created.text
    await phone.wait_event("CALL_INCOMING", timeout=15)
    await asyncio.sleep(0.3)
    await phone.answer()
    await phone.wait_event("CALL_CLOSED", timeout=30)
    assert phone.recorded_wav is not None
    _, heard = read_wav_mono(phone.recorded_wav)
    frames = [heard[i : i + 160] for i in range(0, len(heard) - 160, 160)]
    return [dominant_frequency(f) for f in frames if rms(f) > 300]


async def test_an_upload_on_one_node_is_played_by_another_until_deleted(
    tmp_path: Path, baresip: BaresipFactory, database_url: str
) -> None:
    phone = await baresip("customer", rtp_ports=PHONE_RTP)
    receiver = Receiver()
    receiver.documents["/app"] = PLAY
    await receiver.start()
    a = start_node(tmp_path, "a", database_url)
    b = start_node(tmp_path, "b", database_url)
    await a.start()
    await b.start()
    try:
        async with (
            httpx.AsyncClient(base_url=a.url, headers={"apikey": KEY}) as on_a,
            httpx.AsyncClient(base_url=b.url, headers={"apikey": KEY}) as on_b,
        ):
            uploaded = await on_a.post(
                "/api/v2/announcements",
                files={"file": ("welcome.mp3", mp3_tone(TONE_HZ))},
                data={"id": "welcome"},
            )
            assert uploaded.status_code == 201, uploaded.text
            listed = (await on_b.get("/api/v2/announcements")).json()["announcements"]
            assert [(x["id"], x["origin"]) for x in listed] == [("welcome", "uploaded")]
            clash = await on_b.post("/api/v2/announcements", data={"id": "welcome", "text": "x"})
            assert clash.status_code == 409, clash.text

            heard = await call_and_listen(on_b, phone, receiver.url("/app"))
            assert len(heard) > 75, "the phone heard less than 1.5 s of the 2 s announcement"
            at_tone = [f for f in heard if f == pytest.approx(TONE_HZ, abs=25)]
            assert len(at_tone) > 0.9 * len(heard)
            assert (tmp_path / "b" / "announcements" / "welcome.wav").is_file()

            assert (await on_a.delete("/api/v2/announcements/welcome")).status_code == 204
            assert (await on_b.get("/api/v2/announcements/welcome")).status_code == 404
            assert (await on_b.get("/api/v2/announcements/welcome.wav")).status_code == 404
            assert (await on_b.get("/api/v2/announcements")).json()["announcements"] == []

            after = await call_and_listen(on_b, phone, receiver.url("/app"))
            assert len([f for f in after if f == pytest.approx(TONE_HZ, abs=25)]) < 5
            assert not (tmp_path / "b" / "announcements" / "welcome.wav").exists()
    finally:
        await b.stop()
        await a.stop()
        await receiver.stop()
    for name in ("a", "b"):
        log = (tmp_path / name / "server.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-3000:]

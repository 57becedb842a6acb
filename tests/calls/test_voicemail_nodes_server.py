"""Voicemail across two nodes: two ``callbridge serve`` processes on one database (a
SQLite file, and PostgreSQL), each with its own recordings folder, a baresip caller at a
trunk address, a baresip phone (its mwi module) registered as user 1001 on node B, and a
real SMTP server (aiosmtpd) that is down until node A has stopped.

A message is left through A: the phone on B sees its light go on (B's check of its
subscribers' counts), B serves the message as .wav and .mp3 (its audio is in the
database; B caches it), and marked read on A the light goes off.  A stops (handing its
mail back) and its recordings and B's cache are removed; the SMTP server comes up and B
mails the message with its MP3 (from the database), the caller's 700 Hz tone.  Deleted
on B: B's copy goes, and the light says 0/0."""

from __future__ import annotations

import asyncio
import io
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import soundfile
from test_voicemail_mwi_server import next_summary
from test_voicemail_server import mp3_attachment, until, wait_for_beep

from audio_analysis import dominant_frequency
from mwi.mwi_phone import MwiPhone
from peers.baresip import Baresip
from peers.conftest import BaresipFactory, baresip_host, require_baresip
from peers.net import free_tcp_port
from server_config import mailbox, smtp, trunk, users
from server_database import DATABASES, database_url_for
from server_process import Server, write_config
from smtp_receiver import Inbox, free_port, smtp_server

pytestmark = pytest.mark.peers

KEY = "voicemail-nodes-key-0123456789abcdef01"
NUMBER = "+15550176"
USER = "1001"
SIP_PORTS = {"a": 5760, "b": 5761}
RTP_PORTS = {"a": (53400, 53449), "b": (53450, 53499)}
CALLER_HOST = "127.0.20.176"
CALLER_PORT = 5762
CALLER_RTP = (53500, 53529)
PHONE_RTP = (53530, 53559)
TONE_HZ = 700.0


@pytest.fixture(params=DATABASES)
async def database_url(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The nodes' one database: a SQLite file, or a fresh PostgreSQL database."""
    async with database_url_for(request, tmp_path, "shared.db") as url:
        yield url


def start_node(tmp_path: Path, name: str, database_url: str, smtp_port: int) -> Server:
    directory = tmp_path / name
    directory.mkdir()
    http_port = free_tcp_port()
    config = write_config(
        directory,
        sip_port=SIP_PORTS[name],
        http_port=http_port,
        rtp_ports=RTP_PORTS[name],
        node=f"voicemail-node-{name}",
        api_key=KEY,
        database_url=database_url,
        more=f"""
{users(USER)}
{trunk("sip:127.0.10.176:5060", inbound=(f"{CALLER_HOST}/32",))}
[[numbers]]
number = "{NUMBER}"
mailbox = "sales"
{mailbox("sales", email=("sales@example.com",), users=(USER,))}
{smtp(smtp_port)}
""",
    )
    return Server(config, http_port, directory / "server.log")


def tone_of(audio: bytes) -> float:
    samples, rate = soundfile.read(io.BytesIO(audio), dtype="int16")
    assert 1.5 <= len(samples) / rate <= 4.5
    return dominant_frequency(samples[int(0.3 * rate) : int(1.5 * rate)])


async def test_a_message_left_on_one_node_is_heard_mailed_and_lit_by_another(
    tmp_path: Path, baresip: BaresipFactory, database_url: str
) -> None:
    require_baresip()
    inbox = Inbox()
    smtp_port = free_port()  # nothing listens there until A has stopped
    a = start_node(tmp_path, "a", database_url, smtp_port)
    b = start_node(tmp_path, "b", database_url, smtp_port)
    await a.start()
    await b.start()
    smtp = None
    await asyncio.sleep(1.0)  # the loop's lag measured at startup would refuse the call (503)
    phone = MwiPhone(
        tmp_path / "phone",
        host=baresip_host(),
        user=USER,
        registrar=f"127.0.0.1:{SIP_PORTS['b']}",
        password=f"secret{USER}",
        rtp_ports=PHONE_RTP,
    )
    try:
        async with (
            phone,
            httpx.AsyncClient(base_url=a.url, headers={"apikey": KEY}) as on_a,
            httpx.AsyncClient(base_url=b.url, headers={"apikey": KEY}) as on_b,
        ):
            await phone.wait_event("REGISTER_OK", timeout=10)
            first = await next_summary(phone)
            assert (first.waiting, first.new, first.old) == (False, 0, 0)

            caller = await baresip(
                "caller", host=CALLER_HOST, port=CALLER_PORT, tone_hz=TONE_HZ, rtp_ports=CALLER_RTP
            )
            await leave_message(caller)
            lit = await next_summary(phone)  # B noticed A's message
            assert (lit.waiting, lit.new, lit.old) == (True, 1, 0)

            (message,) = (await on_b.get("/api/v2/voicemails")).json()["voicemails"]
            wav = await on_b.get(f"/api/v2/voicemails/{message['id']}.wav")
            assert wav.status_code == 200, wav.text
            assert abs(tone_of(wav.content) - TONE_HZ) < 15
            mp3 = await on_b.get(f"/api/v2/voicemails/{message['id']}.mp3")
            assert mp3.status_code == 200, mp3.text
            assert abs(tone_of(mp3.content) - TONE_HZ) < 15
            (recorded,) = (tmp_path / "a" / "recordings" / "voicemail" / "sales").glob("*.wav")
            cached = tmp_path / "b" / "recordings" / "voicemail" / "sales" / recorded.name
            assert cached.read_bytes() == recorded.read_bytes()

            read = await on_a.post(f"/api/v2/voicemails/{message['id']}")
            assert read.status_code == 200, read.text
            off = await next_summary(phone)
            assert (off.waiting, off.new, off.old) == (False, 0, 1)

            await a.stop()
            shutil.rmtree(tmp_path / "a" / "recordings")  # as if on another machine
            cached.unlink()
            cached.with_suffix(".mp3").unlink()
            smtp = smtp_server(smtp_port, inbox)
            await until(lambda: len(inbox.mails) == 1, timeout=20)
            assert abs(tone_of(mp3_attachment(inbox.mails[0])) - TONE_HZ) < 15
            log_b = tmp_path / "b" / "server.log"
            sent_by_b = f"(message {message['id']}) sent"
            await until(lambda: sent_by_b in log_b.read_text(errors="replace"), timeout=10)
            assert cached.is_file()  # fetched from the database again

            gone = await on_b.delete(f"/api/v2/voicemails/{message['id']}")
            assert gone.status_code == 204, gone.text
            assert not cached.exists()
            assert not cached.with_suffix(".mp3").exists()
            empty = await next_summary(phone)
            assert (empty.waiting, empty.new, empty.old) == (False, 0, 0)
            missing = await on_b.get(f"/api/v2/voicemails/{message['id']}.wav")
            assert missing.status_code == 404
            await phone.stop(timeout=5)
    finally:
        await b.stop()
        await a.stop()
        if smtp is not None:
            smtp.stop()
    for name in ("a", "b"):
        log = (tmp_path / name / "server.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-3000:]


async def leave_message(caller: Baresip) -> None:
    """Through node A: about 2.5 s of the caller's tone after the beep."""
    await caller.dial(f"sip:{NUMBER}@127.0.0.1:{SIP_PORTS['a']}")
    await caller.wait_event("CALL_ESTABLISHED", timeout=15)
    await wait_for_beep(caller)
    await asyncio.sleep(2.5)
    await caller.hangup()
    await caller.wait_event("CALL_CLOSED", timeout=10)

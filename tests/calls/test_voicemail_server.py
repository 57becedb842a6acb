"""Voicemail through the real server (``callbridge serve``, uvloop), a baresip caller at a
trunk address and a real SMTP server (aiosmtpd) in the test.

The caller hears the greeting and the beep, sends a 700 Hz tone for about 3 s after the
beep and hangs up; the message is stored with about 3 s, the mail arrives, and its MP3
attachment decodes back to 700 Hz.  With the SMTP server down (and the server restarted
in between) the mails arrive once each, in order, when it comes up."""

from __future__ import annotations

import asyncio
import io
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile
from aiosmtpd.controller import Controller

from audio_analysis import dominant_frequency, goertzel_power, read_wav_mono, rms
from peers.baresip import Baresip
from peers.conftest import BaresipFactory
from peers.net import free_tcp_port
from server_config import mailbox, smtp, trunk
from server_process import Server, write_config
from smtp_receiver import Inbox, free_port, smtp_server
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

KEY = "voicemail-server-key-0123456789abcdef"
NUMBER = "+15550180"
APP_NUMBER = "+15550181"
SIP_PORT = 5280
CALLER_HOST = "127.0.20.80"
CALLER_PORT = 5281
SERVER_RTP = (48600, 48799)
CALLER_RTP = (48800, 48899)
TONE_HZ = 700.0
BEEP_HZ = 1000.0


def config_for(tmp_path: Path, http_port: int, smtp_port: int, app_url: str) -> Path:
    return write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=SERVER_RTP,
        node="voicemail-test",
        api_key=KEY,
        more=f"""
{trunk("sip:127.0.10.80:5060", inbound=(f"{CALLER_HOST}/32",))}
[[numbers]]
number = "{NUMBER}"
mailbox = "sales"
[[numbers]]
number = "{APP_NUMBER}"
voice_url = "{app_url}"
api_key = "test"
{mailbox("sales", email=("sales@example.com", "boss@example.com"))}
{smtp(smtp_port)}
""",
    )


def _frames(path: Path, offset: int) -> tuple[bytes, int]:
    """The PCM baresip has written to its growing WAV file after ``offset``."""
    data = path.read_bytes()
    return data[max(offset, 44) :], len(data)


async def wait_for_beep(caller: Baresip, timeout: float = 30.0) -> None:
    """Returns once the received audio holds the beep: 100 ms of a pure 1 kHz tone."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    offset, run, pending = 0, 0, b""
    while loop.time() < deadline:
        await asyncio.sleep(0.1)
        found = caller.recordings("dec")
        if not found:
            continue
        data, offset_now = _frames(found[-1], offset)
        offset = offset_now
        pending += data
        while len(pending) >= 320:
            frame, pending = np.frombuffer(pending[:320], "<i2"), pending[320:]
            level = rms(frame)
            pure = level > 1000 and goertzel_power(frame, BEEP_HZ) > 0.35 * level * level
            run = run + 1 if pure else 0
            if run >= 5:
                return
    raise TimeoutError("the caller never heard the beep")


async def leave_message(caller: Baresip, number: str, seconds: float) -> None:
    await caller.dial(f"sip:{number}@127.0.0.1:{SIP_PORT}")
    await caller.wait_event("CALL_ESTABLISHED", timeout=15)
    await wait_for_beep(caller)
    await asyncio.sleep(seconds)
    await caller.hangup()
    await caller.wait_event("CALL_CLOSED", timeout=10)


async def until(predicate: Any, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.1)


def mp3_attachment(mail: EmailMessage) -> bytes:
    parts = [p for p in mail.iter_attachments() if p.get_content_type() == "audio/mpeg"]
    assert len(parts) == 1, [p.get_content_type() for p in mail.iter_attachments()]
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


async def test_a_caller_leaves_a_message_that_is_stored_and_mailed_as_mp3(
    tmp_path: Path, baresip: BaresipFactory
) -> None:
    inbox = Inbox()
    smtp_port = free_port()
    smtp = smtp_server(smtp_port, inbox)
    http_port = free_tcp_port()
    config = config_for(tmp_path, http_port, smtp_port, "http://127.0.0.1:9/unused")
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    try:
        caller = await baresip(
            "caller", host=CALLER_HOST, port=CALLER_PORT, tone_hz=TONE_HZ, rtp_ports=CALLER_RTP
        )
        await leave_message(caller, NUMBER, 3.0)
        heard = caller.recorded_wav
        assert heard is not None
        _, received = read_wav_mono(heard)
        speech = sum(rms(received[i : i + 160]) > 300 for i in range(0, len(received) - 160, 160))
        assert speech > 100, "no greeting heard"

        await until(lambda: len(inbox.mails) == 1, timeout=20)
        mail = inbox.mails[0]
        assert mail["To"] == "sales@example.com, boss@example.com"
        assert "voicemail@example.com" in mail["From"]
        samples, rate = soundfile.read(io.BytesIO(mp3_attachment(mail)), dtype="int16")
        assert rate == 8000
        assert 2.0 <= len(samples) / rate <= 4.5
        loud = samples[int(0.3 * rate) : int(2.0 * rate)]
        assert abs(dominant_frequency(loud) - TONE_HZ) < 15

        async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as api:
            listed = (await api.get("/api/v2/voicemails", params={"unread": "true"})).json()
            (message,) = listed["voicemails"]
            assert message["mailbox"] == "sales"
            assert message["caller"] == "caller"
            assert message["number"] == NUMBER
            assert 2.0 <= message["duration"] <= 4.5
            assert message["read"] is False
            wav = await api.get(f"/api/v2/voicemails/{message['id']}.wav")
            assert wav.status_code == 200
            assert wav.headers["content-type"] == "audio/wav"
            mp3 = await api.get(f"/api/v2/voicemails/{message['id']}.mp3")
            assert mp3.status_code == 200
            assert mp3.headers["content-type"] == "audio/mpeg"
            read = await api.post(f"/api/v2/voicemails/{message['id']}")
            assert read.json()["read"] is True
            unread = (await api.get("/api/v2/voicemails", params={"unread": "true"})).json()
            assert unread["voicemails"] == []
            assert (await api.get("/api/v2/voicemails", params={"mailbox": "other"})).json() == {
                "voicemails": []
            }
            async with httpx.AsyncClient(base_url=server.url) as anonymous:
                assert (await anonymous.get("/api/v2/voicemails")).status_code == 401
                guessed = await anonymous.get(
                    f"/api/v2/voicemails/{message['id']}.mp3", params={"token": "guess"}
                )
                assert guessed.status_code == 404
            for bad in ("x", "1e3", "99999999999999999999", "-1"):
                assert (await api.get(f"/api/v2/voicemails/{bad}")).status_code == 404
            assert (await api.delete(f"/api/v2/voicemails/{message['id']}")).status_code == 204
            gone = await api.get(f"/api/v2/voicemails/{message['id']}")
            assert gone.status_code == 404
        assert not list((tmp_path / "recordings" / "voicemail" / "sales").glob("*.wav"))
    finally:
        await server.stop()
        smtp.stop()


async def test_mail_waits_for_a_down_smtp_server_across_a_restart_in_order_once(
    tmp_path: Path, baresip: BaresipFactory
) -> None:
    receiver = Receiver()
    receiver.documents["/app"] = (
        '<Response><Voicemail mailbox="sales" asAttachment="false"/></Response>'
    )
    await receiver.start()
    inbox = Inbox()
    smtp_port = free_port()  # nothing listens there until the end
    http_port = free_tcp_port()
    config = config_for(tmp_path, http_port, smtp_port, receiver.url("/app"))
    server = Server(config, http_port, tmp_path / "server.log")
    smtp: Controller | None = None
    await server.start()
    try:
        caller = await baresip(
            "caller", host=CALLER_HOST, port=CALLER_PORT, tone_hz=TONE_HZ, rtp_ports=CALLER_RTP
        )
        await leave_message(caller, APP_NUMBER, 2.0)  # through <Voicemail>: a link
        await asyncio.sleep(1.5)  # a few attempts fail
        await server.stop()
        await server.start()
        await leave_message(caller, NUMBER, 2.0)  # the mailbox's own: an attachment
        await asyncio.sleep(1.0)
        assert inbox.mails == []
        smtp = smtp_server(smtp_port, inbox)
        await until(lambda: len(inbox.mails) >= 2, timeout=20)
        await asyncio.sleep(2.0)  # nothing more comes
        assert len(inbox.mails) == 2
        first, second = inbox.mails
        assert first["Message-ID"] != second["Message-ID"]
        assert not list(first.iter_attachments())
        link = re.search(r"Listen: (\S+)", first.get_content())
        assert link is not None
        mp3_attachment(second)
        async with httpx.AsyncClient() as anonymous:
            heard = await anonymous.get(link.group(1))  # no API key: the link's token
        assert heard.status_code == 200
        assert heard.headers["content-type"] == "audio/mpeg"
        samples, rate = soundfile.read(io.BytesIO(heard.content), dtype="int16")
        assert abs(dominant_frequency(samples[int(0.3 * rate) : int(1.5 * rate)]) - TONE_HZ) < 15
        log = (tmp_path / "server.log").read_text()
        assert "not sent (attempt" in log
    finally:
        await server.stop()
        await receiver.stop()
        if smtp is not None:
            smtp.stop()

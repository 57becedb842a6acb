"""Call control and voicemail together through the real server (``callbridge serve``):
a number under call control whose control answer is seed-004's example 5,
``<Forward voicemail="true" voicemail_announcement="4"/>``, with a mailbox.

A baresip caller at a trunk address hears announcement "4" and the beep, sends a 700 Hz
tone for about 3 s and hangs up; the message is stored (GET /api/v2/voicemails), the mail
reaches a real SMTP server (aiosmtpd), the notify receiver gets HungUp with
type=voicemail, and a phone subscribed to message-summary for the mailbox's user gets
NOTIFY Messages-Waiting: yes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from test_voicemail_server import until, wait_for_beep

from audio_analysis import read_wav_mono, rms
from callbridge.sip.message_summary import parse_message_summary
from mwi.mwi_subscriber import Subscriber
from peers.baresip import Baresip
from peers.conftest import BaresipFactory
from peers.net import free_tcp_port
from server_config import mailbox, smtp, trunk, users
from server_process import Server, write_config
from smtp_receiver import Inbox, free_port, smtp_server
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

KEY = "control-voicemail-key-0123456789abcdef"
NUMBER = "+4922129191500"
SIP_PORT = 5340
SERVER_RTP = (49600, 49699)
CALLER_RTP = (49700, 49799)
CALLER_HOST = "127.0.20.140"
CALLER_PORT = 5341
PHONE_HOST = "127.0.30.140"
USER = "1001"
TONE_HZ = 700.0
EXAMPLE_5 = '<Response><Forward voicemail="true" voicemail_announcement="4"/></Response>'


async def leave_message(caller: Baresip, seconds: float) -> None:
    await caller.dial(f"sip:{NUMBER}@127.0.0.1:{SIP_PORT}")
    await caller.wait_event("CALL_ESTABLISHED", timeout=15)
    await wait_for_beep(caller)
    await asyncio.sleep(seconds)
    await caller.hangup()
    await caller.wait_event("CALL_CLOSED", timeout=10)


def config_for(tmp_path: Path, http_port: int, smtp_port: int, receiver: Receiver) -> Path:
    return write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=SERVER_RTP,
        node="control-voicemail-test",
        api_key=KEY,
        more=f"""
{users(USER)}
{trunk("sip:127.0.10.140:5060", inbound=(f"{CALLER_HOST}/32",))}
[[announcements]]
id = "4"
text = "Please leave a message after the tone."
[[numbers]]
number = "{NUMBER}"
control_url = "{receiver.url("/control")}"
notify_url = "{receiver.url("/notify")}"
mailbox = "sales"
api_key = "test"
{mailbox("sales", email=("sales@example.com",), users=(USER,))}
{smtp(smtp_port)}
""",
    )


async def test_example_5_forward_to_voicemail_stores_mails_notifies_and_lights_the_phone(
    tmp_path: Path, baresip: BaresipFactory
) -> None:
    receiver = Receiver()
    receiver.documents["/control"] = EXAMPLE_5
    await receiver.start()
    inbox = Inbox()
    smtp_port = free_port()
    smtp = smtp_server(smtp_port, inbox)
    http_port = free_tcp_port()
    server = Server(
        config_for(tmp_path, http_port, smtp_port, receiver), http_port, tmp_path / "server.log"
    )
    await server.start()
    await asyncio.sleep(1.0)  # the loop's lag measured at startup would refuse the call (503)
    try:
        async with Subscriber(
            PHONE_HOST, ("127.0.0.1", SIP_PORT), user=USER, password=f"secret{USER}"
        ) as phone:
            assert (await phone.subscribe(expires=600)).status_code == 200
            first = parse_message_summary((await phone.notify()).body)
            assert first.waiting is False

            caller = await baresip(
                "caller", host=CALLER_HOST, port=CALLER_PORT, tone_hz=TONE_HZ, rtp_ports=CALLER_RTP
            )
            await leave_message(caller, 3.0)
            heard = caller.recorded_wav
            assert heard is not None
            _, received = read_wav_mono(heard)
            loud = sum(rms(received[i : i + 160]) > 300 for i in range(0, len(received) - 160, 160))
            assert loud > 100, "announcement 4 not heard"

            lit = parse_message_summary((await phone.notify(timeout=15)).body)
            assert lit.waiting is True
            assert (lit.new, lit.old) == (1, 0)

        await until(lambda: len(inbox.mails) == 1, timeout=20)
        assert inbox.mails[0]["To"] == "sales@example.com"
        await receiver.wait_for(
            lambda: any(r.form.get("event") == "HungUp" for r in receiver.on("/notify")),
            timeout=15,
        )
        async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as api:
            (message,) = (await api.get("/api/v2/voicemails")).json()["voicemails"]
            (call,) = (await api.get("/api/v2/calls")).json()["calls"]
            detail = (await api.get(f"/api/v2/calls/{call['CallSid']}")).json()
        assert message["mailbox"] == "sales"
        assert message["number"] == NUMBER
        assert 2.0 <= message["duration"] <= 4.5
    finally:
        await server.stop()
        await receiver.stop()
        smtp.stop()
    assert len(receiver.on("/control")) == 1
    posts = receiver.on("/notify")
    assert [p.form["event"] for p in posts] == ["IncomingCall", "HungUp"]
    assert posts[1].form["type"] == "voicemail"
    assert {p.form["call_id"] for p in posts} == {call["callId"]}
    noted = [e["data"] for e in detail["events"] if e["name"] == "voicemail"]
    assert noted == [{"mailbox": "sales"}]
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "not available: the built-in greeting plays" not in log  # announcement 4 played
    assert "Traceback" not in log, log[-3000:]

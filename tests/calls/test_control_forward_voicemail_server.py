"""A ``<Forward>`` whose target never answers, through the real server (``callbridge
serve``): seed-004's Forward has ``voicemail="true"`` by default.

A registered baresip phone ("1002", manual answer: it only rings) is the target, with a
ringtime of 3 s.  On the number whose control answer leaves ``voicemail`` at its default,
the caller (baresip at a trunk address) ends in the number's mailbox after the ring time:
it hears the beep, sends a 700 Hz tone for about 2.5 s and hangs up; the message is stored
(GET /api/v2/voicemails), mailed to a real SMTP server (aiosmtpd), and HungUp says
type=voicemail.  On the number whose answer says ``voicemail="false"`` the caller gets 480
after the ring time, HungUp says type=missed and no message is kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from test_voicemail_server import until, wait_for_beep

from peers.baresip import Baresip
from peers.conftest import BaresipFactory
from peers.net import free_tcp_port
from peers.phones import registered_phone
from server_config import mailbox, smtp, trunk, users
from server_process import Server, write_config
from smtp_receiver import Inbox, free_port, smtp_server
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

KEY = "control-forward-voicemail-key-0123456789"
WITH_VOICEMAIL = "+4922129191640"
WITHOUT_VOICEMAIL = "+4922129191641"
SIP_PORT = 5640
SERVER_RTP = (52400, 52449)
CALLER_RTP = (52450, 52469)
PHONE_RTP = (52470, 52489)
CALLER_HOST = "127.0.20.164"
CALLER_PORT = 5641
TARGET = "1002"
TONE_HZ = 700.0
RINGTIME = 3
UNANSWERED = (
    f'<Response><Forward><Target ringtime="{RINGTIME}"><Number>{TARGET}</Number></Target>'
    "</Forward></Response>"
)
UNANSWERED_NO_VOICEMAIL = (
    f'<Response><Forward voicemail="false"><Target ringtime="{RINGTIME}">'
    f"<Number>{TARGET}</Number></Target></Forward></Response>"
)


def config_for(tmp_path: Path, http_port: int, smtp_port: int, receiver: Receiver) -> Path:
    numbers = "".join(
        f"""
[[numbers]]
number = "{number}"
control_url = "{receiver.url(f"/control/{name}")}"
notify_url = "{receiver.url(f"/notify/{name}")}"
mailbox = "sales"
api_key = "test"
"""
        for number, name in ((WITH_VOICEMAIL, "with"), (WITHOUT_VOICEMAIL, "without"))
    )
    return write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=SERVER_RTP,
        node="control-forward-voicemail-test",
        api_key=KEY,
        more=f"""
{users(TARGET)}
{trunk("sip:127.0.10.164:5060", inbound=(f"{CALLER_HOST}/32",))}
{numbers}
{mailbox("sales", email=("sales@example.com",))}
{smtp(smtp_port)}
""",
    )


async def rang_and_was_cancelled(phone: Baresip) -> None:
    await phone.wait_event("CALL_INCOMING", timeout=15)
    await phone.wait_event("CALL_CLOSED", timeout=RINGTIME + 10)


async def test_an_unanswered_forward_ends_in_voicemail_unless_it_says_voicemail_false(
    tmp_path: Path, baresip: BaresipFactory
) -> None:
    receiver = Receiver()
    receiver.documents["/control/with"] = UNANSWERED
    receiver.documents["/control/without"] = UNANSWERED_NO_VOICEMAIL
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
        phone = await registered_phone(
            baresip,
            TARGET,
            registrar=f"127.0.0.1:{SIP_PORT}",
            password=f"secret{TARGET}",
            rtp_ports=PHONE_RTP,
        )
        caller = await baresip(
            "caller", host=CALLER_HOST, port=CALLER_PORT, tone_hz=TONE_HZ, rtp_ports=CALLER_RTP
        )

        # voicemail at its default (true): after the ring time, the mailbox.
        await caller.dial(f"sip:{WITH_VOICEMAIL}@127.0.0.1:{SIP_PORT}")
        await rang_and_was_cancelled(phone)
        await caller.wait_event("CALL_ESTABLISHED", timeout=15)
        await wait_for_beep(caller)
        await asyncio.sleep(2.5)
        await caller.hangup()
        await caller.wait_event("CALL_CLOSED", timeout=10)
        await until(lambda: len(inbox.mails) == 1, timeout=20)
        assert inbox.mails[0]["To"] == "sales@example.com"
        await receiver.wait_for(
            lambda: any(r.form.get("event") == "HungUp" for r in receiver.on("/notify/with")),
            timeout=15,
        )

        # voicemail="false": after the ring time, 480 and no message.
        await caller.dial(f"sip:{WITHOUT_VOICEMAIL}@127.0.0.1:{SIP_PORT}")
        await rang_and_was_cancelled(phone)
        closed = await caller.wait_event("CALL_CLOSED", timeout=15)
        assert "480" in closed.get("param", ""), closed
        await receiver.wait_for(
            lambda: any(r.form.get("event") == "HungUp" for r in receiver.on("/notify/without")),
            timeout=15,
        )
        await asyncio.sleep(1.0)  # a (wrong) second mail would be sent by now
        async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as api:
            (message,) = (await api.get("/api/v2/voicemails")).json()["voicemails"]
    finally:
        await server.stop()
        await receiver.stop()
        smtp.stop()
    assert message["mailbox"] == "sales"
    assert message["number"] == WITH_VOICEMAIL
    assert 1.5 <= message["duration"] <= 4.0
    assert len(inbox.mails) == 1
    with_posts = receiver.on("/notify/with")
    assert [p.form["event"] for p in with_posts] == ["IncomingCall", "HungUp"]
    assert with_posts[1].form["type"] == "voicemail"
    without_posts = receiver.on("/notify/without")
    assert [p.form["event"] for p in without_posts] == ["IncomingCall", "HungUp"]
    assert without_posts[1].form["type"] == "missed"
    assert not [e for e in phone.events if e["type"] == "CALL_ESTABLISHED"]
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]

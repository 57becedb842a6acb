"""Notify without call control, through the real server (``callbridge serve``): numbers
routed by ``user`` and by ``voice_url`` with a ``notify_url`` get seed-004's
IncomingCall / CallAccepted / HungUp posts at a real receiver (Basic auth from the URL).

* The ``user`` number rings a registered baresip phone (auto answer): the caller (baresip
  at a trunk address, a 700 Hz tone) talks to it for 2 s; the phone hears the tone;
  CallAccepted names ``1001@<realm>``; HungUp says ``accepted`` with its duration.
* The ``voice_url`` number's application answers (``<Pause>``, ``<Hangup/>``):
  CallAccepted names the number, HungUp ``accepted``.
* A ``voice_url`` number whose application says ``<Reject/>``: HungUp ``blocked``.
* The posts' ``call_id`` finds the call: ``GET /api/v2/calls?call_id=...``.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx
import pytest
from callback_support import classify

from peers.conftest import BaresipFactory
from peers.net import free_tcp_port
from peers.phones import registered_phone
from server_config import trunk, users
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

KEY = "notify-numbers-key-0123456789abcdef"
USER_NUMBER = "+4922129191780"
APP_NUMBER = "+4922129191781"
REJECT_NUMBER = "+4922129191782"
SIP_PORT = 5780
CALLER_PORT = 5781
CALLER_HOST = "127.0.20.178"
SERVER_RTP = (53600, 53699)
CALLER_RTP = (53700, 53749)
PHONE_RTP = (53750, 53799)
USER = "1001"
TONE_HZ = 700.0
PASSWORD = "n0tify-secret"
APP = '<Response><Pause length="2"/><Hangup/></Response>'
REJECT = "<Response><Reject/></Response>"


def config_for(tmp_path: Path, http_port: int, receiver: Receiver) -> Path:
    def notify(name: str) -> str:
        return receiver.url(f"/notify/{name}").replace("http://", f"http://crm:{PASSWORD}@")

    return write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=SERVER_RTP,
        node="notify-numbers-test",
        api_key=KEY,
        more=f"""
{users(USER)}
{trunk("sip:127.0.10.178:5060", inbound=(f"{CALLER_HOST}/32",))}
[[numbers]]
number = "{USER_NUMBER}"
user = "{USER}"
notify_url = "{notify("user")}"
api_key = "test"
[[numbers]]
number = "{APP_NUMBER}"
voice_url = "{receiver.url("/app")}"
notify_url = "{notify("app")}"
api_key = "test"
[[numbers]]
number = "{REJECT_NUMBER}"
voice_url = "{receiver.url("/reject")}"
notify_url = "{notify("reject")}"
api_key = "test"
""",
    )


def hung_up(receiver: Receiver, path: str) -> bool:
    return any(r.form.get("event") == "HungUp" for r in receiver.on(path))


async def test_numbers_without_control_post_notify(tmp_path: Path, baresip: BaresipFactory) -> None:
    receiver = Receiver()
    receiver.documents["/app"] = APP
    receiver.documents["/reject"] = REJECT
    await receiver.start()
    http_port = free_tcp_port()
    server = Server(config_for(tmp_path, http_port, receiver), http_port, tmp_path / "server.log")
    await server.start()
    await asyncio.sleep(1.0)  # the loop's lag measured at startup would refuse the call (503)
    try:
        phone = await registered_phone(
            baresip,
            USER,
            registrar=f"127.0.0.1:{SIP_PORT}",
            password=f"secret{USER}",
            rtp_ports=PHONE_RTP,
            auto_answer=True,
        )
        caller = await baresip(
            "caller", host=CALLER_HOST, port=CALLER_PORT, tone_hz=TONE_HZ, rtp_ports=CALLER_RTP
        )

        # user: the phone answers, they talk for 2 s, the caller hangs up.
        await caller.dial(f"sip:{USER_NUMBER}@127.0.0.1:{SIP_PORT}")
        await caller.wait_event("CALL_ESTABLISHED", timeout=15)
        await asyncio.sleep(2.5)
        await caller.hangup()
        await caller.wait_event("CALL_CLOSED", timeout=10)
        await phone.wait_event("CALL_CLOSED", timeout=10)
        await receiver.wait_for(lambda: hung_up(receiver, "/notify/user"), timeout=15)

        # voice_url: the application answers, pauses, hangs up.
        await caller.dial(f"sip:{APP_NUMBER}@127.0.0.1:{SIP_PORT}")
        await caller.wait_event("CALL_ESTABLISHED", timeout=15)
        await caller.wait_event("CALL_CLOSED", timeout=15)
        await receiver.wait_for(lambda: hung_up(receiver, "/notify/app"), timeout=15)

        # voice_url rejecting: refused unanswered.
        await caller.dial(f"sip:{REJECT_NUMBER}@127.0.0.1:{SIP_PORT}")
        await caller.wait_event("CALL_CLOSED", timeout=15)
        await receiver.wait_for(lambda: hung_up(receiver, "/notify/reject"), timeout=15)

        user_posts = receiver.on("/notify/user")
        call_id = user_posts[0].form["call_id"]
        async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as api:
            found = (await api.get("/api/v2/calls", params={"call_id": call_id})).json()
            none = (await api.get("/api/v2/calls", params={"call_id": "0" * 64})).json()
            bad = await api.get("/api/v2/calls", params={"call_id": "x' OR 1=1"})
    finally:
        await server.stop()
        await receiver.stop()

    assert [p.form["event"] for p in user_posts] == ["IncomingCall", "CallAccepted", "HungUp"]
    assert {p.form["call_id"] for p in user_posts} == {call_id}
    assert {p.form["to"] for p in user_posts} == {USER_NUMBER}
    assert user_posts[1].form["peer"].startswith(f"{USER}@")
    assert user_posts[2].form["type"] == "accepted"
    assert 1 <= int(user_posts[2].form["duration"]) <= 5
    expected = "Basic " + base64.b64encode(f"crm:{PASSWORD}".encode()).decode()
    assert all(p.headers["authorization"] == expected for p in user_posts)
    heard = classify(phone.recorded_wav, {"caller": (TONE_HZ,)})
    assert heard.count("caller") > 50, "the phone did not hear the caller"

    app_posts = receiver.on("/notify/app")
    assert [p.form["event"] for p in app_posts] == ["IncomingCall", "CallAccepted", "HungUp"]
    assert app_posts[1].form["peer"] == APP_NUMBER
    assert app_posts[2].form["type"] == "accepted"

    reject_posts = receiver.on("/notify/reject")
    assert [p.form["event"] for p in reject_posts] == ["IncomingCall", "HungUp"]
    assert reject_posts[1].form["type"] == "blocked"
    assert reject_posts[1].form["duration"] == "0"
    (call,) = found["calls"]
    assert call["callId"] == call_id
    assert call["to"] == USER_NUMBER
    assert none["calls"] == []
    assert bad.status_code == 400
    assert "OR 1=1" not in bad.text
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert PASSWORD not in log
    assert "Traceback" not in log, log[-3000:]

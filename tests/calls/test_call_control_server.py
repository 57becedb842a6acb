"""Call control through the real server (``callbridge serve``, uvloop, the HTTP worker):
SIPp at a trunk address calls a number whose control URL (with a password) is down; the
backup plan rejects it busy; the notify posts (with Basic auth) reach a real receiver; the
password is in no log line (the HTTP worker's included, at DEBUG) and no API answer."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from peers.conftest import SippUacFactory
from peers.net import free_tcp_port
from server_config import trunk
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

KEY = "control-server-key-0123456789abcdef"
NUMBER = "+4922129191999"
PASSWORD = "n0t-in-any-log"


async def test_control_down_backup_rejects_and_the_password_stays_secret(
    tmp_path: Path, sipp_uac: SippUacFactory
) -> None:
    receiver = Receiver()
    await receiver.start()
    down = Receiver()  # bound, not listening: refused
    control_url = down.url("/control").replace("http://", f"http://crm:{PASSWORD}@")
    notify_url = receiver.url("/notify").replace("http://", f"http://crm:{PASSWORD}@")
    sip_port, http_port = free_tcp_port(), free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=sip_port,
        http_port=http_port,
        rtp_ports=(47400, 47499),
        node="control-test",
        api_key=KEY,
        more=f"""
{trunk("sip:127.0.10.2:5060", inbound=("127.0.10.0/24",))}
[[numbers]]
number = "{NUMBER}"
control_url = "{control_url}"
control_retries = 1
notify_url = "{notify_url}"
backup = '<Response><Reject reason="busy"/></Response>'
api_key = "test"
[log]
level = "DEBUG"
""",
    )
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    try:
        run = sipp_uac(f"127.0.0.1:{sip_port}", "uac_busy", service=NUMBER.lstrip("+"))
        result = await run.run()
        assert result.ok, result.errors or result.stats
        await receiver.wait_for(
            lambda: any(r.form.get("event") == "HungUp" for r in receiver.on("/notify")),
            timeout=15,
        )
        async with httpx.AsyncClient(base_url=server.url) as client:
            listed = await client.get("/api/v2/calls", headers={"apikey": KEY})
            call = listed.json()["calls"][0]
            detail = await client.get(f"/api/v2/calls/{call['CallSid']}", headers={"apikey": KEY})
    finally:
        await server.stop()
        await receiver.stop()
        down._sock.close()
    posts = receiver.on("/notify")
    assert [p.form["event"] for p in posts] == ["IncomingCall", "HungUp"]
    assert posts[1].form["type"] == "blocked"
    assert {p.form["call_id"] for p in posts} == {call["callId"]}
    expected = "Basic " + base64.b64encode(f"crm:{PASSWORD}".encode()).decode()
    assert all(p.headers["authorization"] == expected for p in posts)
    events = detail.json()["events"]
    attempts = [e for e in events if e["name"] == "control_attempt"]
    assert len(attempts) == 2
    plans = [e for e in events if e["name"] == "control_plan"]
    assert plans[0]["data"]["source"] == "backup"
    assert PASSWORD not in detail.text
    assert PASSWORD not in listed.text
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "/control" in log  # the failed attempts are logged, with the clean URL
    assert PASSWORD not in log
    assert "Traceback" not in log, log[-3000:]

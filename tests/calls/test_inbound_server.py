"""Inbound calls through the real server (``callbridge serve``, uvloop, the HTTP worker):
SIPp at a trunk address calls a configured number over UDP and over TCP; the number's
application (a real HTTP server in the test) pauses; the calls are listed, as inbound, to
the number's key only."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from peers.conftest import SippUacFactory
from peers.net import free_tcp_port
from server_config import trunk
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

KEY = "inbound-server-key-0123456789abcdef"
OTHER_KEY = "inbound-other-key-0123456789abcdef"
NUMBER = "+15550199"


async def test_sipp_calls_a_number_over_udp_and_tcp(
    tmp_path: Path, sipp_uac: SippUacFactory
) -> None:
    receiver = Receiver()
    receiver.documents["/app"] = '<Response><Pause length="3"/></Response>'
    await receiver.start()
    sip_port, http_port = free_tcp_port(), free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=sip_port,
        http_port=http_port,
        rtp_ports=(44600, 44799),
        node="inbound-test",
        api_key=KEY,
        more=f"""
[[api_keys]]
key = "{OTHER_KEY}"
name = "other"
{trunk("sip:127.0.10.2:5060", inbound=("127.0.10.0/24",))}
[[numbers]]
number = "{NUMBER}"
voice_url = "{receiver.url("/app")}"
status_callback = "{receiver.url("/status")}"
status_callback_event = "initiated ringing answered completed"
api_key = "test"
""",
    )
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    try:
        target = f"127.0.0.1:{sip_port}"
        for transport in ("u1", "t1"):
            run = sipp_uac(target, service="15550199", transport=transport, pause_ms=300)
            result = await run.run()
            assert result.ok, (transport, result.errors or result.stats)
        await receiver.wait_for(
            lambda: (
                sum(r.form.get("CallStatus") == "completed" for r in receiver.on("/status")) == 2
            ),
            timeout=15,
        )
        async with httpx.AsyncClient(base_url=server.url) as client:
            mine = await client.get(
                "/api/v2/calls", params={"direction": "inbound"}, headers={"apikey": KEY}
            )
            theirs = await client.get(
                "/api/v2/calls", params={"direction": "inbound"}, headers={"apikey": OTHER_KEY}
            )
        assert mine.status_code == 200, mine.text
        calls = mine.json()["calls"]
        assert len(calls) == 2
        assert {c["direction"] for c in calls} == {"inbound"}
        assert theirs.json()["calls"] == []
        asked = receiver.on("/app")
        assert len(asked) == 2
        assert {r.form["Direction"] for r in asked} == {"inbound"}
        assert all("x-callbridge-signature" in r.headers for r in asked)
    finally:
        await server.stop()
        await receiver.stop()
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]

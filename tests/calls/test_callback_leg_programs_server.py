"""seed-000's per-leg attributes on the real server (``callbridge serve``): the seed's
request shape with more attributes for each leg — the agent's leg runs a whisper
application (fetched signed, with the leg's CallSid), the customer's leg gets ``senddigits``
and ``record`` — and an unknown field comes back as a warning."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from callback_support import classify

from callbridge.webhooks.signing import verify
from peers.conftest import BaresipFactory
from peers.net import free_tcp_port
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

KEY = "seed-000-legs-key-0123456789abcdef"
SIP_PORT = 5321  # the seeds branch's ports: 5320-5339, RTP 49200-49599
RTP_PORTS = (49400, 49599)
AGENT_TONE = 700.0
CUSTOMER_TONE = 1000.0
WHISPER = "<Response><Say>Callback for the order 4711.</Say></Response>"


async def test_the_seed_request_with_each_legs_own_attributes(
    tmp_path: Path, receiver: Receiver, baresip: BaresipFactory
) -> None:
    agent, customer = await asyncio.gather(
        baresip("agent", auto_answer=True, tone_hz=AGENT_TONE),
        baresip("customer", auto_answer=True, tone_hz=CUSTOMER_TONE),
    )
    receiver.documents["/whisper"] = WHISPER
    hooks = {"status_callback": receiver.url("/status"), "status_callback_event": "completed"}
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=RTP_PORTS,
        node="seed-000-legs",
        api_key=KEY,
    )
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as api:
            placed = await api.post(
                "/voice/call/callback",
                json={
                    "leg_A": {"to": agent.uri, "from": "1000125", "url": receiver.url("/whisper")}
                    | hooks,
                    "leg_B": {"to": customer.uri, "from": "1000123", "senddigits": "12"}
                    | {"record": True, "campaign": "spring"}
                    | hooks,
                },
            )
            assert placed.status_code == 201, placed.text
            body = placed.json()
            assert body["warnings"] == [
                {"field": "leg_B.campaign", "message": "is not a field of this API and was ignored"}
            ]
            await customer.wait_event("CALL_ESTABLISHED", timeout=30)
            await asyncio.sleep(3.0)
            await agent.hangup()
            await customer.wait_event("CALL_CLOSED", timeout=15)
            b_sid = body["leg_B"]["CallSid"]
            await receiver.wait_for(
                lambda: any(r.form.get("CallSid") == b_sid for r in receiver.on("/status")),
                timeout=20,
            )
            secret = (await api.get("/api/v2/keys/self")).json()["signingSecret"]
            (completed,) = [r.form for r in receiver.on("/status") if r.form["CallSid"] == b_sid]
            recording_url = completed["RecordingURL"]
            assert recording_url.startswith(f"{server.url}/api/v2/recordings/")
            recording = await api.get(recording_url)
    finally:
        await server.stop()

    assert customer.received_dtmf == "12"
    heard_by_agent = classify(agent.recorded_wav, {"customer": (CUSTOMER_TONE,)})
    assert heard_by_agent.count("speech") > 25, "the agent heard no whisper"
    assert heard_by_agent.count("customer") > 50, "the agent was not bridged to the customer"
    heard_by_customer = classify(customer.recorded_wav, {"agent": (AGENT_TONE,)})
    assert heard_by_customer.count("speech") < 5, "the customer heard the whisper"
    (fetch,) = receiver.on("/whisper")
    assert fetch.form["CallSid"] == body["id"]
    verify(
        header=fetch.headers["x-callbridge-signature"],
        payload=fetch.body,
        secret=secret,
        now=time.time(),
    )
    assert recording.status_code == 200
    assert recording.content[:4] == b"RIFF"

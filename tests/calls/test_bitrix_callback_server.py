"""voximplant.callback.start (seed-003) over HTTP against the real server (``callbridge
serve``): Bitrix24's request rings the line's registered baresip desk phone with the client's
number, the manager who answers hears the text, then the client is called through the
carrier (SIPp, which echoes what it hears) with the line's number, and the two are bridged:
the manager hears their own tone come back through the client's leg."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from callback_support import classify, tone_start

from peers.conftest import BaresipFactory, SippUasFactory
from peers.net import free_tcp_port
from peers.phones import registered_phone
from peers.sipp import UasMode
from server_config import trunk, users
from server_process import Server, write_config

pytestmark = pytest.mark.peers

KEY = "bitrix-e2e-key-0123456789abcdef"
SIP_PORT = 5077
MANAGER_TONE = 700.0
CLIENT = "+79110000001"
LINE_NUMBER = "74950000000"
TEXT = "You have a callback request, connecting with the client now."


def line_and_carrier(carrier: str) -> str:
    """The default trunk at ``carrier``, desk phone 1001 and the line reg1332 that rings it."""
    return f"""
{trunk(f"sip:{carrier}")}
{users("1001")}
[[lines]]
id = "reg1332"
name = "Sales"
users = ["1001"]
number = "{LINE_NUMBER}"
"""


async def callback_when(
    api: httpx.AsyncClient, call_id: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """``GET /voice/call/callback/{CALL_ID}`` once ``done`` holds for it (or after 20 s)."""
    shown: dict[str, Any] = {}
    for _ in range(400):
        shown = (await api.get(f"/voice/call/callback/{call_id}")).json()
        if done(shown):
            break
        await asyncio.sleep(0.05)
    return shown


async def test_the_seed_request_rings_the_line_speaks_then_bridges_the_client(
    tmp_path: Path, baresip: BaresipFactory, sipp_uas: SippUasFactory
) -> None:
    carrier = await sipp_uas(UasMode.ANSWER)  # and echoes the RTP it receives
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=(44400, 44599),
        node="bitrix-e2e",
        api_key=KEY,
        more=line_and_carrier(carrier.address),
    )
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    try:
        desk = await registered_phone(
            baresip,
            "1001",
            registrar=f"127.0.0.1:{SIP_PORT}",
            password="secret1001",
            name="desk-1001",
            tone_hz=MANAGER_TONE,
        )
        bitrix = httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"})
        api = httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY})
        async with bitrix, api:
            started = await bitrix.post(
                "/rest/voximplant.callback.start.json",
                json={
                    "FROM_LINE": "reg1332",
                    "TO_NUMBER": CLIENT,
                    "TEXT_TO_PRONOUNCE": TEXT,
                    "VOICE": "en-us",
                },
            )
            assert started.status_code == 200, started.text
            call_id = started.json()["result"]["CALL_ID"]
            incoming = await desk.wait_event("CALL_INCOMING", timeout=15)
            assert CLIENT.lstrip("+") in incoming.get("peeruri", ""), incoming
            await desk.answer()
            bridged = await callback_when(api, call_id, lambda c: c["status"] == "bridged")
            assert bridged["status"] == "bridged", bridged
            await asyncio.sleep(2.0)  # the manager talks to the (echoing) client
            await desk.hangup()
            ended = await callback_when(api, call_id, lambda c: c.get("endedBy") is not None)
    finally:
        await server.stop()

    assert (ended["status"], ended["endedBy"]) == ("completed", "A"), ended
    heard = classify(desk.recorded_wav, {"echo": (MANAGER_TONE,)})
    echoed = tone_start(heard, "echo")
    assert echoed < len(heard), "the manager never heard the client's side"
    assert heard[:echoed].count("speech") > 50, "the manager did not hear the text first"
    assert heard[echoed:].count("echo") > 50, "the bridge did not last"
    [invite] = [
        entry
        for entry in re.split(r"^-{20,} .*$", carrier.message_file.read_text(), flags=re.M)
        if "message received" in entry and "\nINVITE sip:" in entry
    ]
    request_line = next(line for line in invite.splitlines() if line.startswith("INVITE "))
    assert request_line.startswith(f"INVITE sip:{CLIENT}@"), request_line
    assert f"From: <sip:{LINE_NUMBER}@" in invite, "the client did not see the line's number"

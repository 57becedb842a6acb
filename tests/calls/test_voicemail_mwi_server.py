"""The message-waiting light of a real phone on the real server (``callbridge serve``).

A baresip phone with its mwi module, registered as user 1001 of mailbox "sales",
subscribes to message-summary: the first NOTIFY says no.  A caller leaves a message on
the mailbox's number → NOTIFY Messages-Waiting: yes (1/0).  ``POST
/api/v2/voicemails/{id}`` marks it read → NOTIFY Messages-Waiting: no (0/1); DELETE →
no (0/0)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from test_voicemail_server import wait_for_beep

from callbridge.sip.message_summary import MessageSummary, parse_message_summary
from mwi.mwi_phone import MwiPhone
from peers.conftest import BaresipFactory, baresip_host, require_baresip
from peers.net import free_tcp_port
from server_config import mailbox, trunk, users
from server_process import Server, write_config

pytestmark = pytest.mark.peers

KEY = "voicemail-mwi-key-0123456789abcdef0123"
NUMBER = "+4922129191645"
SIP_PORT = 5645
SERVER_RTP = (52490, 52529)
CALLER_RTP = (52530, 52549)
PHONE_RTP = (52550, 52569)
CALLER_HOST = "127.0.20.165"
CALLER_PORT = 5646
USER = "1001"


def config_for(tmp_path: Path, http_port: int) -> Path:
    return write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=SERVER_RTP,
        node="voicemail-mwi-test",
        api_key=KEY,
        more=f"""
{users(USER)}
{trunk("sip:127.0.10.165:5060", inbound=(f"{CALLER_HOST}/32",))}
[[numbers]]
number = "{NUMBER}"
mailbox = "sales"
{mailbox("sales", users=(USER,), as_attachment=False)}
""",
    )


async def next_summary(phone: MwiPhone, timeout: float = 15.0) -> MessageSummary:
    return parse_message_summary((await phone.wait_event("MWI_NOTIFY", timeout=timeout))["param"])


async def test_a_phone_sees_the_light_go_on_for_a_message_and_off_once_it_is_read(
    tmp_path: Path, baresip: BaresipFactory
) -> None:
    require_baresip()
    http_port = free_tcp_port()
    server = Server(config_for(tmp_path, http_port), http_port, tmp_path / "server.log")
    await server.start()
    await asyncio.sleep(1.0)  # the loop's lag measured at startup would refuse the call (503)
    phone = MwiPhone(
        tmp_path / "phone",
        host=baresip_host(),
        user=USER,
        registrar=f"127.0.0.1:{SIP_PORT}",
        password=f"secret{USER}",
        rtp_ports=PHONE_RTP,
    )
    try:
        async with phone, httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as api:
            await phone.wait_event("REGISTER_OK", timeout=10)
            first = await next_summary(phone)
            assert (first.waiting, first.new, first.old) == (False, 0, 0)

            caller = await baresip(
                "caller", host=CALLER_HOST, port=CALLER_PORT, tone_hz=700.0, rtp_ports=CALLER_RTP
            )
            await caller.dial(f"sip:{NUMBER}@127.0.0.1:{SIP_PORT}")
            await caller.wait_event("CALL_ESTABLISHED", timeout=15)
            await wait_for_beep(caller)
            await asyncio.sleep(2.0)
            await caller.hangup()
            await caller.wait_event("CALL_CLOSED", timeout=10)
            lit = await next_summary(phone)
            assert (lit.waiting, lit.new, lit.old) == (True, 1, 0)

            (message,) = (await api.get("/api/v2/voicemails")).json()["voicemails"]
            read = await api.post(f"/api/v2/voicemails/{message['id']}")
            assert read.status_code == 200, read.text
            off = await next_summary(phone)
            assert (off.waiting, off.new, off.old) == (False, 0, 1)

            gone = await api.delete(f"/api/v2/voicemails/{message['id']}")
            assert gone.status_code == 204, gone.text
            empty = await next_summary(phone)
            assert (empty.waiting, empty.new, empty.old) == (False, 0, 0)
            await phone.stop(timeout=5)
    finally:
        await server.stop()
    assert "subscription for" not in phone.log_text()  # no failure reported by its mwi module
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]

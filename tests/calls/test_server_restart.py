"""Kill the real server (``callbridge serve``) in the middle of a call and start it again:
the call is closed with a cause and no status callback is lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from peers.conftest import BaresipFactory
from peers.net import free_tcp_port
from server_database import DATABASES, database_url_for
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

API_KEY = "restart-test-key-0123456789"
SIP_PORT = 5075


@pytest.fixture(params=DATABASES)
async def database_url(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The server's database: a SQLite file, or a fresh PostgreSQL database."""
    async with database_url_for(request, tmp_path) as url:
        yield url


async def test_a_killed_server_closes_the_call_and_sends_completed_after_restart(
    tmp_path: Path, receiver: Receiver, baresip: BaresipFactory, database_url: str
) -> None:
    phone = await baresip("customer")
    receiver.documents["/app"] = '<Response><Pause length="120"/></Response>'
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=(44000, 44199),
        node="restart-test",
        api_key=API_KEY,
        database_url=database_url,
    )
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, headers={"apikey": API_KEY}) as api:
            created = await api.post(
                "/api/v2/calls",
                data={
                    "to": phone.uri,
                    "from": "15550001",
                    "url": receiver.url("/app"),
                    "statusCallback": receiver.url("/status"),
                    "statusCallbackEvent": "initiated ringing answered completed",
                },
            )
            assert created.status_code == 201, created.text
            sid = created.json()["CallSid"]
            await phone.wait_event("CALL_INCOMING", timeout=15)
            await asyncio.sleep(0.3)
            await phone.answer()
            await receiver.wait_for(lambda: bool(receiver.on("/app")), timeout=15)
            await server.kill()
            await server.start()
            await receiver.wait_for(
                lambda: any(r.form.get("CallStatus") == "completed" for r in receiver.accepted),
                timeout=20,
            )
            # The phone still had the call (it has no RTP timeout): the new run hangs it up.
            await phone.wait_event("CALL_CLOSED", timeout=15)
            detail = await api_detail_with(api, sid, event="dialog_ended")
    finally:
        await server.stop()
    # At least once: a send the crash kept us from recording is sent again after the
    # restart, with the same delivery key; in key order the events are complete and ordered.
    firsts: dict[str, tuple[str, str]] = {}
    for hook in (r for r in receiver.accepted if r.path == "/status"):
        sent = (hook.form["CallStatus"], hook.form["SequenceNumber"])
        firsts.setdefault(hook.headers["x-callbridge-delivery"], sent)
    # SequenceNumber goes on where the killed run left it (the count is in the database).
    assert list(firsts.values()) == [
        ("initiated", "0"),
        ("ringing", "1"),
        ("answered", "2"),
        ("completed", "3"),
    ]
    assert detail["status"] == "completed"
    assert "restarted" in detail["hangupCause"]
    [ended] = [e for e in detail["events"] if e["name"] == "dialog_ended"]
    assert ended["data"] == {"sip_code": 200, "after": "restart"}


async def api_detail_with(api: httpx.AsyncClient, sid: str, *, event: str) -> dict[str, Any]:
    """The call as the API shows it, once ``event`` is among its events (or after 5 s)."""
    detail: dict[str, Any] = {}
    for _ in range(100):
        detail = (await api.get(f"/api/v2/calls/{sid}")).json()
        if any(e["name"] == event for e in detail["events"]):
            break
        await asyncio.sleep(0.05)
    return detail

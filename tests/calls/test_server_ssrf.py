"""The real server (``callbridge serve``, its HTTP worker process) refuses customers' URLs
that reach its own network (issue 15, item 12): a voice document and status callbacks on
a loopback receiver, with loopback not allowed, are never fetched; the call's events and
its webhooks name the rule and how to allow it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from peers.conftest import BaresipFactory
from peers.net import free_tcp_port
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

API_KEY = "ssrf-test-key-0123456789"
SIP_PORT = 5091
RULE = '[http_client] deny_networks "127.0.0.0/8"'


async def test_a_loopback_application_is_blocked_unless_allowed(
    tmp_path: Path, receiver: Receiver, baresip: BaresipFactory
) -> None:
    phone = await baresip("customer")
    receiver.documents["/app"] = '<Response><Pause length="5"/></Response>'
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=(45200, 45399),
        node="ssrf-test",
        api_key=API_KEY,
        allow_networks=(),  # the default policy: loopback refused
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
                    "statusCallback": f"http://localhost:{receiver.port}/status",
                    "statusCallbackEvent": "initiated answered completed",
                },
            )
            assert created.status_code == 201, created.text
            sid = created.json()["CallSid"]
            await phone.wait_event("CALL_INCOMING", timeout=15)
            await asyncio.sleep(0.3)
            await phone.answer()
            await phone.wait_event("CALL_CLOSED", timeout=15)
            detail = await detail_when(api, sid, failed)
    finally:
        await server.stop()
    assert receiver.requests == [], "a denied address was fetched"
    [error] = [e["data"]["message"] for e in detail["events"] if e["name"] == "error"]
    assert error.startswith(f"cannot fetch POST {receiver.url('/app')}: blocked by {RULE}")
    assert "allow_networks" in error
    # The status callback's host name resolves to loopback; the later events wait behind
    # the first one's retries.
    tried = [h for h in detail["webhooks"] if h["attempts"]]
    assert tried, detail["webhooks"]
    for hook in tried:
        assert hook["lastStatusCode"] is None
        assert hook["lastError"].startswith(f"blocked by {RULE}")
        assert "allow_networks" in hook["lastError"]


def failed(detail: dict[str, Any]) -> bool:
    """The call ended, its error noted, its first webhook tried."""
    return (
        detail["status"] == "completed"
        and any(e["name"] == "error" for e in detail["events"])
        and any(h["lastError"] for h in detail["webhooks"])
    )


async def detail_with(api: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    response = await api.get(f"/api/v2/calls/{sid}")
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()
    return detail


async def detail_when(api: httpx.AsyncClient, sid: str, condition: Any) -> dict[str, Any]:
    """The call as the API shows it once ``condition`` holds (or after 10 s)."""
    detail = await detail_with(api, sid)
    for _ in range(200):
        if condition(detail):
            break
        await asyncio.sleep(0.05)
        detail = await detail_with(api, sid)
    return detail

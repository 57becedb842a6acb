"""The toll-fraud guards through every API of the real server (``callbridge serve``): a key
restricted by its [[api_keys]] rules and the global denied prefixes gets 403 naming the
rule from the outbound call API, the callback API and Bitrix24's callback.start, and
nothing is stored or dialled.  (A <Dial> in a document: tests/calls/test_destination_guards.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from peers.net import free_tcp_port
from server_config import trunk
from server_process import Server, write_config

OPEN_KEY = "destinations-open-key-0123456789"
KEY = "destinations-restricted-0123456789"
CARRIER = "127.0.10.250:5060"  # never sent to: every call here is refused
MORE = f"""
{trunk(f"sip:{CARRIER}")}
{trunk("sip:127.0.10.251:5060", name="other", default=False)}
[[lines]]
id = "sales"
numbers = ["+15550111"]
number = "+15550100"
[[api_keys]]
key = "{KEY}"
name = "restricted"
allowed_destinations = ["+1", "+49"]
allowed_trunks = ["carrier"]
caller_ids = ["+15550100"]
"""


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=free_tcp_port(),
        http_port=http_port,
        rtp_ports=(44820, 44839),
        node="destinations-test",
        api_key=OPEN_KEY,
        more=MORE,
    )
    running = Server(config, http_port, tmp_path / "server.log")
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def refused_by(response: httpx.Response, rule: str) -> bool:
    body = response.json()
    message = body["error"]["message"] if "message" in body.get("error", {}) else ""
    message = message or body.get("error_description", "")
    return response.status_code == 403 and f"refused by {rule}:" in message


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"to": "sip:anyone@127.0.10.254", "from": "+15550100"}, "allow_sip_uris"),
        ({"to": "+19005550000", "from": "+15550100"}, "denied_prefixes"),
        ({"to": "911", "from": "+15550100"}, "denied_prefixes"),
        ({"to": "+442071234567", "from": "+15550100"}, "allowed_destinations"),
        ({"to": "+15551234", "from": "+15559999"}, "caller_ids"),
    ],
)
async def test_the_outbound_call_api_refuses_with_403_naming_the_rule(
    server: Server, fields: dict[str, str], rule: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as api:
        response = await api.post("/api/v2/calls", data={**fields, "url": "http://127.0.0.1/x"})
        listed = (await api.get("/api/v2/calls")).json()
    assert refused_by(response, rule), response.text
    assert response.json()["error"]["id"] == "destination_refused"
    assert listed["calls"] == []


@pytest.mark.parametrize(
    ("leg_b", "rule"),
    [
        ({"to": "sip:anyone@127.0.10.254", "from": "+15550100"}, "allow_sip_uris"),
        ({"to": "+19765550000", "from": "+15550100"}, "denied_prefixes"),
        ({"to": "+15551234", "from": "+15550100", "trunk": "other"}, "allowed_trunks"),
        (
            {
                "to": "+15551234",
                "from": "+15550100",
                "headers": {"P-Asserted-Identity": "<sip:+15559999@carrier.example>"},
            },
            "caller_ids",
        ),
    ],
)
async def test_the_callback_api_refuses_with_403_naming_the_rule(
    server: Server, leg_b: dict[str, object], rule: str
) -> None:
    leg_a = {"to": "+15551000", "from": "+15550100"}
    async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as api:
        response = await api.post("/voice/call/callback", json={"leg_A": leg_a, "leg_B": leg_b})
        listed = (await api.get("/api/v2/calls")).json()
    assert refused_by(response, rule), response.text
    assert listed["calls"] == []


async def test_bitrix_callback_start_refuses_with_403_access_denied(server: Server) -> None:
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}
    ) as bitrix:
        response = await bitrix.post(
            "/rest/voximplant.callback.start.json",
            json={"FROM_LINE": "sales", "TO_NUMBER": "+19005550000", "TEXT_TO_PRONOUNCE": "Hi"},
        )
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "ACCESS_DENIED"
    assert refused_by(response, "denied_prefixes")


async def test_the_open_test_key_may_call_sip_uris_but_not_premium_numbers(
    server: Server,
) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers={"apikey": OPEN_KEY}) as api:
        premium = await api.post("/api/v2/calls", data={"to": "+19005550000", "from": "1"})
    assert refused_by(premium, "denied_prefixes")

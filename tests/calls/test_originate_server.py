"""seed-002's OriginateCall against the real server (``callbridge serve``), driven by the
seed's own PHP example run by php-cli (its http_build_query, md5 and curl: a client nobody
here wrote).  The agent is a registered baresip phone; the customer is SIPp behind the
default trunk.  Every reply is HTTP 200 with {has_error, messages, results}."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosipua import SipRequest, SipResponse
from aiosipua.auth import SipDigestAuth, answer_challenge
from originate_support import (
    CUSTOMER,
    SHOWN_NUMBER,
    auth,
    carrier_invites,
    data,
    no_legs,
    php_example,
    php_hash,
    signed,
    state_of,
)

from callbridge.sip.message import parse_message
from peers.conftest import BaresipFactory, SippUasFactory
from peers.net import free_tcp_port
from peers.phones import registered_phone
from peers.sipp import SippRun, UasMode
from server_config import project, trunk, users
from server_process import Server, write_config
from webhook_receiver import Receiver

pytestmark = [
    pytest.mark.peers,
    pytest.mark.skipif(shutil.which("php") is None, reason="php-cli is not installed"),
]

SIP_PORT = 5241
RTP = (47700, 47799)
KEY = "originate-e2e-key-0123456789abcdef"


def pbx(carrier: str, context_url: str) -> str:
    return f"""
{trunk(f"sip:{carrier}", name="default-trunk")}
{project(1, "Sales")}
{project(2, "Support")}
[[originate_users]]
username = "your_api_usr"
password = "your_api_pass"
key = "your_api_key"
project = 1
api_key = "test"
{users("1001", "1002", project=1)}
{users("2001", project=2)}
[[contexts]]
name = "welcome"
project = 1
voice_url = "{context_url}"
[[contexts]]
name = "greet"
voice_xml = '<Response><Say>Hello {{{{NAME}}}}</Say><Hangup/></Response>'
"""


@pytest.fixture
async def carrier(sipp_uas: SippUasFactory) -> SippRun:
    return await sipp_uas(UasMode.ANSWER)


@pytest.fixture
async def crm() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    receiver.documents["/context/welcome"] = '<Response><Pause length="1"/></Response>'
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def server(tmp_path: Path, carrier: SippRun, crm: Receiver) -> AsyncIterator[Server]:
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=RTP,
        node="originate-e2e",
        api_key=KEY,
        more=pbx(carrier.address, crm.url("/context/welcome")),
    )
    running = Server(config, http_port, tmp_path / "server.log")
    await running.start()
    yield running
    await running.stop()


async def test_the_seed_example_rings_the_agent_then_the_customer_and_bridges(
    server: Server, carrier: SippRun, baresip: BaresipFactory
) -> None:
    agent = await registered_phone(
        baresip, "1001", registrar=f"127.0.0.1:{SIP_PORT}", password="secret1001"
    )
    reply = await php_example(server, TYPE="user", DESTINATION="1001", EXTERNAL_ID="seed-1")
    assert reply == {
        "has_error": False,
        "messages": [],
        "results": ["Call successfully originated for user: 1001"],
    }
    incoming = await agent.wait_event("CALL_INCOMING", timeout=10)
    assert CUSTOMER in incoming.get("peeruri", ""), incoming  # the customer's number shown
    async with httpx.AsyncClient(base_url=server.url) as api:
        ringing = await state_of(api, "seed-1", "agent_ringing")
        assert ringing["status"] == "agent_ringing", ringing
        await agent.answer()
        bridged = await state_of(api, "seed-1", "in_progress")
        assert bridged["status"] == "in_progress", bridged
        users = (await api.get("/api/v2/users", headers={"apikey": KEY})).json()["users"]
        assert {u["extension"]: u["state"] for u in users}["1001"] == "busy"
        await agent.hangup()
        done = await state_of(api, "seed-1", "completed")
        assert done["status"] == "completed", done
        [invite] = carrier_invites(carrier)
        assert f"INVITE sip:{CUSTOMER}@" in invite
        assert f"From: <sip:{SHOWN_NUMBER}@" in invite or f"<sip:{SHOWN_NUMBER}@" in invite
        assert (await api.get("/health")).json()["legs"] == 0 or await no_legs(api)


async def test_async_0_waits_for_the_agent_and_says_they_rejected(
    server: Server, baresip: BaresipFactory
) -> None:
    agent = await registered_phone(
        baresip, "1001", registrar=f"127.0.0.1:{SIP_PORT}", password="secret1001"
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as api:
        pending = asyncio.ensure_future(
            signed(api, {**auth(), "data": data(external_id="wait-1", **{"async": 0})})
        )
        await agent.wait_event("CALL_INCOMING", timeout=10)
        assert not pending.done()  # async=0: the reply waits for the agent
        await agent.hangup()  # reject
        reply = await pending
        assert reply["has_error"] is True, reply
        assert reply["messages"][0].startswith("User 1001 "), reply
        assert "rejected" in reply["messages"][0] or "busy" in reply["messages"][0], reply
        assert await no_legs(api)


async def test_each_error_is_named_in_the_seed_reply_shape(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as api:

        async def refused(params: dict[str, Any], key: str = "your_api_key") -> list[str]:
            reply = await signed(api, params, key)
            assert reply["has_error"] is True, reply
            assert reply["results"] == [], reply
            messages: list[str] = reply["messages"]
            return messages

        assert await refused({**auth(), "data": data()}, key="wrong") == [
            "Invalid api_hash. It must be md5(http_build_query(params) . key) without api_hash"
        ]
        assert await refused({"api_username": "x", "api_password": "y", "data": data()}) == [
            "Invalid api_username or api_password"
        ]
        missing = await refused({**auth(), "data": {"project_id": 1, "type": "user"}})
        assert missing == [
            f"Missing mandatory field: data[{name}]"
            for name in ("caller_id", "caller_id_name", "destination", "external_id")
        ]
        assert await refused({**auth(), "data": data(project_id=9)}) == [
            "Invalid Project. Check if pbx project exists"
        ]
        assert await refused({**auth(), "data": data(project_id=2, destination="2001")}) == [
            "Invalid Project. Check if pbx project exists"  # not this client's project
        ]
        assert await refused({**auth(), "data": data(destination="1999")}) == [
            "Invalid User. Check if pbx user exists"
        ]
        assert await refused({**auth(), "data": data(destination="1002")}) == [
            "User 1002 is offline and cannot take a call now"
        ]
        assert await refused({**auth(), "data": data(type="queue", destination="q")}) == [
            "Invalid Queue. Check if pbx queue exists"
        ]
        assert await refused({**auth(), "data": data(type="context", destination="x")}) == [
            "Invalid Context. Check if pbx context exists"
        ]
        assert await refused({**auth(), "data": data(outbound_trunk="nope")}) == [
            "Invalid Trunk. Check if pbx trunk exists"
        ]
        assert await refused({**auth(), "data": data(type="fax")}) == [
            "Invalid type. Use user, queue or context"
        ]
        assert await refused({**auth(), "external_id": "never"}) == [
            "Invalid external_id. No call with external_id never"
        ]
        by_query = {**auth(), "external_id": "never"}
        got = await api.get(
            "/api/originate-call",
            params={**by_query, "api_hash": php_hash(by_query, "your_api_key")},
        )
        assert got.status_code == 200
        assert got.json() == {
            "has_error": True,
            "messages": ["Invalid external_id. No call with external_id never"],
            "results": [],
        }
        garbage = await api.post(
            "/api/originate-call",
            content=b"data[a]]=1",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert garbage.status_code == 200
        assert garbage.json()["has_error"] is True
        assert (await api.get("/health")).json()["legs"] == 0


class RawAgent:
    """A second phone of user 1001 made of one UDP socket: it registers (digest), keeps
    the INVITEs it gets (to read their headers), answers 180, and a CANCEL 200 + 487."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.setblocking(False)
        self.invites: list[SipRequest] = []
        self.cancelled = asyncio.Event()

    def close(self) -> None:
        self.sock.close()

    async def _receive(self) -> SipRequest | SipResponse:
        loop = asyncio.get_running_loop()
        data = await loop.sock_recv(self.sock, 65535)
        return parse_message(data)

    def _send(self, text: str) -> None:
        self.sock.sendto(text.encode(), ("127.0.0.1", SIP_PORT))

    def _register(self, cseq: int, authorization: str = "") -> None:
        auth_line = f"Authorization: {authorization}\r\n" if authorization else ""
        self._send(
            f"REGISTER sip:127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {self.host}:{self.port};branch=z9hG4bK-agent-{cseq}\r\n"
            f"From: <sip:1001@127.0.0.1>;tag=agent\r\nTo: <sip:1001@127.0.0.1>\r\n"
            f"Call-ID: agent-reg\r\nCSeq: {cseq} REGISTER\r\n"
            f"Contact: <sip:1001@{self.host}:{self.port}>\r\n{auth_line}"
            "Max-Forwards: 70\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n"
        )

    async def register(self) -> None:
        async with asyncio.timeout(5):
            self._register(1)
            challenge = await self._receive()
            assert isinstance(challenge, SipResponse)
            assert challenge.status_code == 401
            answer = answer_challenge(
                SipDigestAuth("1001", "secret1001"), challenge, 401, "REGISTER", "sip:127.0.0.1"
            )
            assert answer is not None
            self._register(2, answer[1])
            ok = await self._receive()
            assert isinstance(ok, SipResponse)
            assert ok.status_code == 200

    async def serve(self) -> None:
        while True:
            message = await self._receive()
            if not isinstance(message, SipRequest):
                continue
            if message.method == "INVITE":
                self.invites.append(message)
                self._send(self._reply(message, "180 Ringing"))
            elif message.method == "CANCEL":
                self._send(self._reply(message, "200 OK"))
                invite = self.invites[-1]
                self._send(self._reply(invite, "487 Request Terminated"))
                self.cancelled.set()

    def _reply(self, request: SipRequest, status: str) -> str:
        headers = "".join(
            f"{name}: {value}\r\n"
            for name in ("Via", "From", "Call-ID", "CSeq")
            for value in request.get_header_values(name.lower())
        )
        to = request.get_header("to") or ""
        return (
            f"SIP/2.0 {status}\r\n{headers}To: {to};tag=agent-leg\r\n"
            f"Contact: <sip:1001@{self.host}:{self.port}>\r\nContent-Length: 0\r\n\r\n"
        )


async def test_every_phone_of_the_agent_rings_with_the_customer_and_the_crm_link(
    server: Server, baresip: BaresipFactory
) -> None:
    desk = await registered_phone(
        baresip, "1001", registrar=f"127.0.0.1:{SIP_PORT}", password="secret1001"
    )
    softphone = RawAgent("127.0.0.62", 5242)
    serving: asyncio.Task[None] | None = None
    try:
        await softphone.register()
        serving = asyncio.create_task(softphone.serve())
        async with httpx.AsyncClient(base_url=server.url) as api:
            reply = await signed(api, {**auth(), "data": data(external_id="fork-1")})
            assert reply["results"] == ["Call successfully originated for user: 1001"], reply
            await desk.wait_event("CALL_INCOMING", timeout=10)
            for _ in range(100):
                if softphone.invites:
                    break
                await asyncio.sleep(0.05)
            [invite] = softphone.invites
            assert invite.get_header("call-info") == "<https://crm.example.com/?id=1>;purpose=info"
            assert invite.get_header("x-backend-link") == "https://crm.example.com/?id=1"
            shown = invite.get_header("from") or ""
            assert shown.startswith(f'"John Doe" <sip:{CUSTOMER}@'), shown
            await desk.answer()  # the other phone stops ringing
            async with asyncio.timeout(10):
                await softphone.cancelled.wait()
            assert (await state_of(api, "fork-1", "in_progress"))["status"] == "in_progress"
            await desk.hangup()
            assert await no_legs(api)
    finally:
        if serving is not None:
            serving.cancel()
        softphone.close()


async def test_a_context_runs_on_the_answered_customer_with_the_vars(
    server: Server, crm: Receiver, carrier: SippRun
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as api:
        variables = {"SKIP_WELCOME": 1, "NAME": "Ann"}
        asked = data(type="context", destination="welcome", external_id="ctx-1", vars=variables)
        reply = await signed(api, {**auth(), "data": asked})
        assert reply["results"] == ["Call successfully originated for context: welcome"], reply
        await crm.wait_for(lambda: bool(crm.on("/context/welcome")))
        [fetch] = crm.on("/context/welcome")
        assert fetch.query_params["SKIP_WELCOME"] == "1"
        assert fetch.query_params["NAME"] == "Ann"
        assert fetch.form["CallStatus"] == "in-progress"  # fetched once the customer answered
        assert fetch.form["ExternalId"] == "ctx-1"
        done = await state_of(api, "ctx-1", "completed")
        assert done["status"] == "completed", done
        [invite] = carrier_invites(carrier)
        assert f"INVITE sip:{CUSTOMER}@" in invite
        listed = await api.get(
            "/api/v2/calls", params={"external_id": "ctx-1"}, headers={"apikey": KEY}
        )
        [stored] = listed.json()["calls"]
        assert stored["externalId"] == "ctx-1"
        assert stored["CallSid"] == done["call_sid"]
        greeted = data(type="context", destination="greet", external_id="ctx-2", vars={})
        reply = await signed(api, {**auth(), "data": greeted})
        assert reply["has_error"] is False, reply
        assert (await state_of(api, "ctx-2", "completed"))["status"] == "completed"
        assert await no_legs(api)


async def test_async_0_answers_once_the_agent_answered(
    server: Server, baresip: BaresipFactory
) -> None:
    agent = await registered_phone(
        baresip, "1001", registrar=f"127.0.0.1:{SIP_PORT}", password="secret1001"
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as api:
        pending = asyncio.ensure_future(
            signed(api, {**auth(), "data": data(external_id="wait-2", **{"async": 0})})
        )
        await agent.wait_event("CALL_INCOMING", timeout=10)
        await asyncio.sleep(0.3)
        assert not pending.done()
        await agent.answer()
        reply = await pending
        assert reply == {
            "has_error": False,
            "messages": [],
            "results": ["Call successfully originated for user: 1001"],
        }
        await state_of(api, "wait-2", "in_progress")
        await agent.hangup()
        assert await no_legs(api)

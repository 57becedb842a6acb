"""A call ends the moment either side's BYE is sent (RFC 3261 §15), through the real server
(``callbridge serve``): a carrier hangs up as the server does, its BYE crossing the server's
("BYE glare"), and never answers the server's BYE.  The call is completed and its key's
``max_concurrent = 1`` admits the next call while the server's BYE is still retransmitted
(its transaction waits for Timer F, 32 s, in the transaction layer only); the carrier's
crossing BYE gets 200."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiosipua import SipRequest, SipResponse

from callbridge.sip.message import parse_message
from peers.net import free_tcp_port
from server_config import trunk
from server_process import Server, write_config
from webhook_receiver import Receiver

SIP_PORT = 5740
RTP_PORTS = (53200, 53249)
CARRIER = "127.0.57.2"
KEY = "bye-glare-key-0123456789abcdef"
NUMBER = "+15550157"
SDP = (
    "v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
_branches = itertools.count(1)


class Carrier:
    """A trunk's UDP side with one call at a time: it sends what it is told and keeps
    every message the server sends it (requests and responses)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((CARRIER, 0))
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self.received: list[SipRequest | SipResponse] = []

    def send(self, lines: list[str], body: str = "") -> None:
        if body:
            lines = [*lines, "Content-Type: application/sdp"]
        text = "\r\n".join([*lines, f"Content-Length: {len(body.encode())}"]) + "\r\n\r\n"
        self.sock.sendto((text + body).encode(), ("127.0.0.1", SIP_PORT))

    async def next(
        self, call_id: str, *, method: str | None = None, status: int | None = None
    ) -> SipRequest | SipResponse:
        """The next message of ``call_id`` that is a ``method`` request or a ``status``
        response (earlier ones are skipped); bounded so a broken server fails the test."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(20):
            while True:
                message = parse_message(await loop.sock_recv(self.sock, 70000))
                self.received.append(message)
                if message.call_id != call_id:
                    continue
                if method and isinstance(message, SipRequest) and message.method == method:
                    return message
                if status and isinstance(message, SipResponse) and message.status_code == status:
                    return message

    def in_dialog(self, method: str, call: str, to_tag: str, cseq: int) -> list[str]:
        return [
            f"{method} sip:{NUMBER[1:]}@127.0.0.1:{SIP_PORT} SIP/2.0",
            f"Via: SIP/2.0/UDP {CARRIER}:{self.port};branch=z9hG4bK-glare-{next(_branches)}",
            f"From: <sip:15550100@{CARRIER}>;tag=from-{call}",
            f"To: <sip:{NUMBER[1:]}@127.0.0.1>;tag={to_tag}",
            f"Call-ID: {call}",
            f"CSeq: {cseq} {method}",
            "Max-Forwards: 70",
        ]

    async def call(self, call: str) -> tuple[int, str]:
        """INVITE the number; ACK its final answer: (status, the server's To tag)."""
        invite = self.in_dialog("INVITE", call, "", 1)
        invite[3] = f"To: <sip:{NUMBER[1:]}@127.0.0.1>"
        invite.append(f"Contact: <sip:15550100@{CARRIER}:{self.port}>")
        self.send(invite, SDP.format(host=CARRIER))
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(20):
            while True:
                message = parse_message(await loop.sock_recv(self.sock, 70000))
                self.received.append(message)
                if isinstance(message, SipResponse) and message.status_code >= 200:
                    break
        to_tag = message.to_addr.tag if message.to_addr and message.to_addr.tag else ""
        if message.status_code < 300:  # ACK for 2xx: its own transaction (§13.2.2.4)
            self.send(self.in_dialog("ACK", call, to_tag, 1))
        else:  # ACK for a failure: the INVITE's branch (§17.1.1.3)
            ack = self.in_dialog("ACK", call, to_tag, 1)
            ack[1] = f"Via: {message.get_header_values('via')[0]}"
            self.send(ack)
        return message.status_code, to_tag


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Server, Receiver]]:
    receiver = Receiver()
    receiver.documents["/app"] = '<Response><Pause length="1"/><Hangup/></Response>'
    await receiver.start()
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=RTP_PORTS,
        node="bye-glare-test",
        api_key=KEY,
        more=f"""max_concurrent = 1
scopes = ["call", "metrics"]
{trunk(f"sip:{CARRIER}:5060")}
[[numbers]]
number = "{NUMBER}"
voice_url = "{receiver.url("/app")}"
api_key = "test"
""",
    )
    server = Server(config, http_port, tmp_path / "server.log")
    await server.start()
    try:
        yield server, receiver
    finally:
        await server.stop()
        await receiver.stop()
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


async def test_a_call_whose_bye_crossed_the_carriers_is_over_at_once(
    world: tuple[Server, Receiver],
) -> None:
    server, receiver = world
    carrier = Carrier()
    try:
        status, server_tag = await carrier.call("glare-1")
        assert status == 200
        # The application hangs up after its Pause: the server's BYE.  The carrier hangs up
        # too (its BYE crosses the server's) and never answers the server's BYE.
        ours = await carrier.next("glare-1", method="BYE")
        assert isinstance(ours, SipRequest)
        carrier.send(carrier.in_dialog("BYE", "glare-1", server_tag, 2))
        assert await carrier.next("glare-1", status=200)  # the crossing BYE: 200, not 481

        [asked] = receiver.on("/app")
        sid = asked.form["CallSid"]
        async with httpx.AsyncClient(base_url=server.url, headers={"apikey": KEY}) as api:
            # Completed, and no longer live (the registry and the permit go together);
            # bounded well below the 32 s the call used to stay live.
            async with asyncio.timeout(15):
                while True:
                    detail = (await api.get(f"/api/v2/calls/{sid}")).json()
                    metrics = (await api.get("/metrics")).text.splitlines()
                    if detail["status"] == "completed" and "callbridge_calls_live 0.0" in metrics:
                        break
                    await asyncio.sleep(0.1)

            # max_concurrent = 1: the permit is back, the next call is admitted ...
            status, server_tag = await carrier.call("glare-2")
            assert status == 200
            bye = await carrier.next("glare-2", method="BYE")
            carrier.send(_answer(bye, 200))

        # ... while the server's first BYE, still unanswered, is still being sent: nothing
        # above its transaction waited for it.
        again = await carrier.next("glare-1", method="BYE")
        assert again.get_header_values("via") == ours.get_header_values("via")
        carrier.send(_answer(again, 481))
    finally:
        carrier.sock.close()


def _answer(request: SipRequest | SipResponse, status: int) -> list[str]:
    assert isinstance(request, SipRequest)
    names = ("via", "from", "to", "call-id", "cseq")
    lines = [f"SIP/2.0 {status} {'OK' if status == 200 else 'Call Does Not Exist'}"]
    for name in names:
        lines += [f"{name.title()}: {value}" for value in request.get_header_values(name)]
    return lines

"""Hand-written SIP requests sent to an engine (by default the engine tests' one) from a
plain UDP socket, and the responses that come back, for tests that must send what no
well-behaved peer sends."""

from __future__ import annotations

import asyncio
import re
import socket

ENGINE_HOST = "127.0.0.1"
ENGINE_PORT = 5071  # tests/engine/engine_setup.py

SDP = (
    "v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
)


def invite(
    n: int,
    *,
    host: str,
    port: int,
    contact: str | None = None,
    rtp_port: int = 40000,
    target: str = ENGINE_HOST,
) -> bytes:
    """An INVITE with an SDP offer from ``host:port`` to extension 1002 (Call-ID ``inv-n``)."""
    body = SDP.format(host=host, port=rtp_port)
    contact = contact if contact is not None else f"<sip:caller@{host}:{port}>"
    return (
        f"INVITE sip:1002@{target} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK-inv-{n};rport\r\n"
        f"From: <sip:caller@{host}>;tag=c{n}\r\n"
        f"To: <sip:1002@{target}>\r\n"
        f"Call-ID: inv-{n}\r\n"
        f"CSeq: 1 INVITE\r\n"
        f"Contact: {contact}\r\n"
        "Max-Forwards: 70\r\n"
        "Content-Type: application/sdp\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def register(n: int, *, host: str, port: int, authorization: str | None = None) -> bytes:
    """A REGISTER of extension 1001 (Call-ID ``reg-n``), with ``authorization`` if given."""
    auth = f"Authorization: {authorization}\r\n" if authorization else ""
    return (
        f"REGISTER sip:{ENGINE_HOST} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK-reg-{n};rport\r\n"
        f"From: <sip:1001@{ENGINE_HOST}>;tag=r{n}\r\n"
        f"To: <sip:1001@{ENGINE_HOST}>\r\n"
        f"Call-ID: reg-{n}\r\n"
        f"CSeq: {n + 1} REGISTER\r\n"
        f"Contact: <sip:1001@{host}:{port}>\r\n"
        f"{auth}"
        "Max-Forwards: 70\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def status_of(data: bytes) -> int:
    return int(data.split(b" ", 2)[1])


def call_id_of(data: bytes) -> str:
    match = re.search(rb"^(?:Call-ID|i)\s*:\s*(.*?)\r?$", data, re.MULTILINE | re.IGNORECASE)
    return match.group(1).decode(errors="replace").strip() if match else ""


class RawPeer:
    """A bound, non-blocking UDP socket that sends to the engine and collects replies."""

    def __init__(self, host: str, port: int, *, target: tuple[str, int] | None = None) -> None:
        self.host, self.port = host, port
        self.target = target or (ENGINE_HOST, ENGINE_PORT)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind((host, port))
        self.sock.setblocking(False)
        self.replies: list[bytes] = []
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RawPeer:
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        self.sock.close()

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.replies.append(await loop.sock_recv(self.sock, 70000))

    async def send(self, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendto(self.sock, data, self.target)

    def statuses(self, call_id: str) -> list[int]:
        return [status_of(r) for r in self.replies if call_id_of(r) == call_id]

    def finals(self) -> dict[str, int]:
        """Call-ID -> the first final status received for it."""
        found: dict[str, int] = {}
        for reply in self.replies:
            status = status_of(reply)
            if status >= 200:
                found.setdefault(call_id_of(reply), status)
        return found

    async def wait_for(self, call_ids: set[str], timeout: float) -> dict[str, int]:
        """Wait (bounded) until each of ``call_ids`` has a final response."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            finals = self.finals()
            if call_ids <= finals.keys():
                return finals
            await asyncio.sleep(0.05)
        return self.finals()

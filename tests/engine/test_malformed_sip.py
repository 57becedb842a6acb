"""Malformed SIP reaching the engine is answered 400 (when it can be) or dropped, and the
server keeps working (RFC 4475 in spirit)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from engine_setup import ENGINE_HOST, ENGINE_PORT

from callbridge.engine.engine import Engine

OPTIONS = (
    "OPTIONS sip:callbridge@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.30.1:5099;branch=z9hG4bK-ok-{n}\r\n"
    "From: <sip:probe@127.0.30.1>;tag=p{n}\r\n"
    "To: <sip:callbridge@127.0.0.1>\r\n"
    "Call-ID: probe-{n}\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Max-Forwards: 70\r\n"
    "Content-Length: 0\r\n\r\n"
)

TORTURE = [
    b"",
    b"\r\n\r\n",
    b"garbage that is not SIP at all",
    b"\x00\xff\xfe" * 100,
    # missing Call-ID and CSeq
    b"INVITE sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.30.1:5099;branch=z9hG4bK-a\r\n"
    b"From: <sip:x@y>;tag=1\r\nTo: <sip:1001@127.0.0.1>\r\nContent-Length: 0\r\n\r\n",
    # non-numeric CSeq
    b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.30.1:5099;branch=z9hG4bK-b\r\n"
    b"From: <sip:x@y>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: t1\r\nCSeq: abc OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n",
    # Content-Length larger than the body (truncated datagram)
    b"INVITE sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.30.1:5099;branch=z9hG4bK-c\r\n"
    b"From: <sip:x@y>;tag=1\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: t2\r\nCSeq: 1 INVITE\r\n"
    b"Content-Type: application/sdp\r\nContent-Length: 500\r\n\r\nv=0\r\n",
    # unknown SIP version
    b"OPTIONS sip:x@127.0.0.1 SIP/7.0\r\nVia: SIP/7.0/UDP 127.0.30.1:5099;branch=z9hG4bK-d\r\n"
    b"From: <sip:x@y>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: t3\r\nCSeq: 1 OPTIONS\r\n\r\n",
    # oversized: 70 KiB of headers
    b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.30.1:5099;branch=z9hG4bK-e\r\n"
    + b"X-Pad: "
    + b"a" * 60000
    + b"\r\n\r\n",
    # a response nobody asked for
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-nope\r\n"
    b"From: <sip:a@b>;tag=1\r\n"
    b"To: <sip:c@d>;tag=2\r\nCall-ID: stray\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
    # an INVITE whose SDP is nonsense
    b"INVITE sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.30.1:5099;branch=z9hG4bK-f\r\n"
    b"From: <sip:x@y>;tag=1\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: t4\r\nCSeq: 1 INVITE\r\n"
    b"Content-Type: application/sdp\r\nContent-Length: 9\r\n\r\nnot sdp!!",
]


def _status(data: bytes) -> int:
    return int(data.split(b" ", 2)[1])


async def _exchange(sock: socket.socket, payload: bytes, wait: float = 0.3) -> list[bytes]:
    loop = asyncio.get_running_loop()
    await loop.sock_sendto(sock, payload, (ENGINE_HOST, ENGINE_PORT))
    replies: list[bytes] = []
    while True:
        try:
            replies.append(await asyncio.wait_for(loop.sock_recv(sock, 70000), wait))
        except TimeoutError:
            return replies


@pytest.fixture
def probe() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.30.1", 5099))
    sock.setblocking(False)
    yield sock
    sock.close()


async def test_torture_messages_get_400_or_nothing_and_server_survives(
    engine: Engine, probe: socket.socket
) -> None:
    for n, payload in enumerate(TORTURE):
        replies = await _exchange(probe, payload, wait=0.15)
        statuses = [_status(r) for r in replies if r.startswith(b"SIP/2.0 ")]
        assert all(s in (100, 400, 404, 481, 488, 505, 513) or s >= 400 for s in statuses), (
            n,
            statuses,
        )
        assert not [s for s in statuses if 200 <= s < 300], (n, statuses)
    replies = await _exchange(probe, OPTIONS.format(n=1).encode())
    # Late retransmissions of earlier finals (Timer G, nobody ACKs them) may arrive too.
    assert [_status(r) for r in replies if b"Call-ID: probe-1" in r] == [200]
    assert engine.legs == {}


async def test_missing_mandatory_header_is_answered_400(
    engine: Engine, probe: socket.socket
) -> None:
    replies = await _exchange(probe, TORTURE[5])
    assert [_status(r) for r in replies] == [400]


async def test_unknown_method_gets_405_and_stray_bye_481(
    engine: Engine, probe: socket.socket
) -> None:
    message = OPTIONS.format(n=2).replace("OPTIONS", "SUBSCRIBE")
    assert [_status(r) for r in await _exchange(probe, message.encode())] == [405]
    bye = (
        OPTIONS.format(n=3)
        .replace("OPTIONS", "BYE")
        .replace("To: <sip:callbridge@127.0.0.1>", "To: <sip:callbridge@127.0.0.1>;tag=unknown")
    )
    assert [_status(r) for r in await _exchange(probe, bye.encode())] == [481]

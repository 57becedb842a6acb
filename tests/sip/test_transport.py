"""SIP transport (RFC 3261 §18): UDP and TCP on one port, replies and reuse of TCP
connections, pings, framing errors.  The TCP tests run on asyncio's loop and on uvloop's:
under uvloop every TCP connection used to be closed at once (an ``isinstance`` check on
the transport), and outbound TCP requests were never sent."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from callbridge.sip.message import MAX_MESSAGE_SIZE, Peer, parse_message
from callbridge.sip.transport import SipTransport
from callbridge.sip.udp import READ_BATCH, RECEIVE_BUFFER

HOST = "127.0.0.1"


def message(body: bytes = b"", *, branch: str = "z9hG4bKa1") -> bytes:
    head = (
        "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 127.0.0.1:5999;branch={branch}\r\n"
        "From: <sip:alice@127.0.0.1>;tag=a\r\n"
        "To: <sip:bob@127.0.0.1>\r\n"
        "Call-ID: frame-test\r\n"
        "CSeq: 1 OPTIONS\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@pytest.fixture
async def server() -> AsyncIterator[tuple[SipTransport, list[tuple[bytes, Peer]]]]:
    received: list[tuple[bytes, Peer]] = []
    transport: SipTransport

    def echo(data: bytes, peer: Peer) -> None:
        received.append((data, peer))
        transport.send(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", peer)

    transport = SipTransport(on_message=echo)
    await transport.start(HOST, 0)
    yield transport, received
    await transport.close()


@pytest.mark.both_loops
async def test_tcp_replies_on_the_same_connection(
    server: tuple[SipTransport, list[tuple[bytes, Peer]]],
) -> None:
    transport, received = server
    reader, writer = await asyncio.open_connection(HOST, transport.local_port)
    data = message(b"body")
    writer.write(b"\r\n\r\n" + data[:20])
    await writer.drain()
    writer.write(data[20:] + message())
    await writer.drain()
    assert await reader.readexactly(2) == b"\r\n"  # the pong to the leading ping
    replies = [await reader.readuntil(b"\r\n\r\n") for _ in range(2)]
    assert all(r.startswith(b"SIP/2.0 200") for r in replies)
    assert [d for d, _ in received] == [data, message()]
    assert {p for _, p in received} == {received[0][1]}
    assert received[0][1].transport == "tcp"
    writer.close()
    await writer.wait_closed()


@pytest.mark.both_loops
async def test_tcp_abuse_closes_the_connection(
    server: tuple[SipTransport, list[tuple[bytes, Peer]]],
) -> None:
    transport, received = server
    reader, writer = await asyncio.open_connection(HOST, transport.local_port)
    writer.write(b"A" * (MAX_MESSAGE_SIZE + 100))
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert received == []
    writer.close()
    await _until(lambda: transport.tcp_connections == 0)


@pytest.mark.both_loops
@pytest.mark.parametrize(
    ("data", "status"),
    [
        (message().replace(b"Content-Length: 0", b"Content-Length: -1"), b"400 "),
        (message().replace(b"Content-Length: 0", b"Content-Length: 999999"), b"513 "),
        (message().replace(b"\r\n\r\n", b"\r\nX-Pad: " + b"p" * MAX_MESSAGE_SIZE), b"513 "),
    ],
    ids=["bad content-length", "body too large", "header section too large"],
)
async def test_a_stream_that_cannot_be_framed_is_answered_then_closed(
    server: tuple[SipTransport, list[tuple[bytes, Peer]]], data: bytes, status: bytes
) -> None:
    transport, received = server
    reader, writer = await asyncio.open_connection(HOST, transport.local_port)
    writer.write(data)
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(), 5)  # all of it, up to the close
    assert reply.startswith(b"SIP/2.0 " + status), reply[:100]
    assert b"Call-ID: frame-test\r\n" in reply
    assert reply.endswith(b"\r\n\r\n")
    assert received == []
    writer.close()
    await _until(lambda: transport.tcp_connections == 0)


@pytest.mark.both_loops
async def test_a_crlf_ping_gets_a_crlf_pong(
    server: tuple[SipTransport, list[tuple[bytes, Peer]]],
) -> None:
    transport, received = server
    reader, writer = await asyncio.open_connection(HOST, transport.local_port)
    writer.write(b"\r\n\r\n")
    assert await asyncio.wait_for(reader.readexactly(2), 5) == b"\r\n"
    writer.write(b"\r\n")
    await asyncio.sleep(0.05)
    writer.write(b"\r\n" + message())  # one ping in two writes, then a message
    assert await asyncio.wait_for(reader.readexactly(2), 5) == b"\r\n"
    reply = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert reply.startswith(b"SIP/2.0 200")
    assert [d for d, _ in received] == [message()]
    writer.close()
    await writer.wait_closed()


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("condition not met")


@pytest.mark.both_loops
async def test_udp_and_tcp_share_the_port_and_outbound_tcp_is_reused() -> None:
    got: list[tuple[bytes, Peer]] = []
    bob = SipTransport(on_message=lambda data, peer: got.append((data, peer)))
    alice = SipTransport(on_message=lambda data, peer: None)
    await bob.start(HOST, 0)
    await alice.start(HOST, 0)
    try:
        for peer in (
            Peer(transport="udp", host=HOST, port=bob.local_port),
            Peer(transport="tcp", host=HOST, port=bob.local_port),
            Peer(transport="tcp", host=HOST, port=bob.local_port),
        ):
            alice.send(message(), peer)
        for _ in range(500):
            if len(got) == 3:
                break
            await asyncio.sleep(0.002)
        assert [p.transport for _, p in got] == ["udp", "tcp", "tcp"]
        assert got[1][1] == got[2][1]  # one TCP connection for both sends
        assert [parse_message(d).call_id for d, _ in got] == ["frame-test"] * 3
    finally:
        await alice.close()
        await bob.close()


async def test_the_udp_socket_asks_for_a_large_receive_buffer() -> None:
    transport = SipTransport(on_message=lambda data, peer: None)
    await transport.start(HOST, 0)
    try:
        assert transport._udp is not None
        size = transport._udp.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    finally:
        await transport.close()
    # Linux doubles the request (for its bookkeeping), capped at net.core.rmem_max.
    assert size == 2 * min(RECEIVE_BUFFER, _rmem_max())


def _rmem_max() -> int:
    return int(Path("/proc/sys/net/core/rmem_max").read_text())


async def test_datagrams_that_queued_while_the_loop_was_busy_are_read_in_batches() -> None:
    loop = asyncio.get_running_loop()
    got: list[bytes] = []
    first_read: asyncio.Future[int] = loop.create_future()

    def on_message(data: bytes, peer: Peer) -> None:
        got.append(data)
        if len(got) == 1:  # runs once the read that delivered this one is over
            loop.call_soon(lambda: first_read.set_result(len(got)))

    transport = SipTransport(on_message=on_message)
    await transport.start(HOST, 0)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for n in range(3 * READ_BATCH):  # queued before the loop looks at the socket
            sender.sendto(b"OPTIONS %d" % n, (HOST, transport.local_port))
        assert await asyncio.wait_for(first_read, 5) == READ_BATCH
        for _ in range(100):
            if len(got) == 3 * READ_BATCH:
                break
            await asyncio.sleep(0.01)
        assert got == [b"OPTIONS %d" % n for n in range(3 * READ_BATCH)]
    finally:
        sender.close()
        await transport.close()

"""SIP transport (RFC 3261 §18): TCP framing by Content-Length, keep-alives, reuse, abuse."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callbridge.sip.message import MAX_MESSAGE_SIZE, Peer, parse_message
from callbridge.sip.transport import FramingError, SipTransport, next_frame
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


def test_frames_split_by_content_length_with_keepalives() -> None:
    first, second = message(b"hello"), message(b"", branch="z9hG4bKa2")
    buffer = bytearray(b"\r\n\r\n" + first + b"\r\n" + second[:10])
    assert next_frame(buffer) == first
    assert next_frame(buffer) is None  # the second one is incomplete
    buffer += second[10:]
    assert next_frame(buffer) == second
    assert buffer == b""
    assert next_frame(bytearray(b"\r\n\r\n")) is None


def test_compact_content_length_frames() -> None:
    data = message(b"abc").replace(b"Content-Length:", b"l:")
    assert next_frame(bytearray(data + b"rest")) == data


@pytest.mark.parametrize(
    "data",
    [
        message().replace(b"Content-Length: 0", b"Content-Length: x"),
        message().replace(b"Content-Length: 0", b"Content-Length: -4"),
        message().replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 0"),
        message().replace(b"Content-Length: 0", f"Content-Length: {MAX_MESSAGE_SIZE}".encode()),
        b"X" * (MAX_MESSAGE_SIZE + 1),
    ],
    ids=["garbage", "negative", "twice", "body too large", "headers too large"],
)
def test_unframeable_streams(data: bytes) -> None:
    with pytest.raises(FramingError):
        next_frame(bytearray(data))


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
    replies = [await reader.readuntil(b"\r\n\r\n") for _ in range(2)]
    assert all(r.startswith(b"SIP/2.0 200") for r in replies)
    assert [d for d, _ in received] == [data, message()]
    assert {p for _, p in received} == {received[0][1]}
    assert received[0][1].transport == "tcp"
    writer.close()
    await writer.wait_closed()


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

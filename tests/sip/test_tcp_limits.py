"""What a TCP peer can make the SIP transport hold is bounded (callbridge.sip.tcp):
connections in all and per source address, the time a begun message may take, the time a
connection may stay silent; connections that only trickle give way to a real client; and
what peers cause is logged as bounded summary lines, without tracebacks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from callbridge.sip.message import Peer
from callbridge.sip.tcp import TcpLimits
from callbridge.sip.transport import SipTransport

pytestmark = pytest.mark.both_loops
HOST = "127.0.0.1"
OPTIONS = (
    b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKlim\r\n"
    b"From: <sip:alice@127.0.0.1>;tag=a\r\nTo: <sip:bob@127.0.0.1>\r\n"
    b"Call-ID: limits\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def echo_server(limits: TcpLimits) -> SipTransport:
    transport: SipTransport

    def echo(data: bytes, peer: Peer) -> None:
        transport.send(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", peer)

    transport = SipTransport(on_message=echo, tcp_limits=limits)
    await transport.start(HOST, 0)
    return transport


@pytest.fixture
async def streams() -> AsyncIterator[list[Stream]]:
    opened: list[Stream] = []
    yield opened
    for _, writer in opened:
        writer.close()


async def connect(opened: list[Stream], port: int, source: str = HOST) -> Stream:
    stream = await asyncio.open_connection(HOST, port, local_addr=(source, 0))
    opened.append(stream)
    return stream


async def served(stream: Stream) -> bool:
    """Whether an OPTIONS on ``stream`` is answered (False: the connection was closed)."""
    reader, writer = stream
    try:
        writer.write(OPTIONS)
        reply = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    except (asyncio.IncompleteReadError, ConnectionError):
        return False
    return reply.startswith(b"SIP/2.0 200")


async def closed(stream: Stream, timeout: float = 5.0) -> bool:
    try:
        return await asyncio.wait_for(stream[0].read(), timeout) == b""
    except ConnectionError:
        return True


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("condition not met")


async def test_connections_from_one_source_are_limited(streams: list[Stream]) -> None:
    server = await echo_server(TcpLimits(max_per_source=3))
    try:
        first = [await connect(streams, server.local_port) for _ in range(3)]
        assert all([await served(s) for s in first])
        fourth = await connect(streams, server.local_port)
        assert await closed(fourth)
        other = await connect(streams, server.local_port, source="127.0.0.2")
        assert await served(other)
        assert all([await served(s) for s in first])
        assert server.tcp_connections == 4
    finally:
        await server.close()
    assert server.tcp_connections == 0


async def test_tricklers_give_way_to_a_client_when_the_table_is_full(
    streams: list[Stream],
) -> None:
    server = await echo_server(TcpLimits(max_connections=4, max_per_source=10))
    try:
        tricklers = [await connect(streams, server.local_port) for _ in range(4)]
        for _, writer in tricklers:
            writer.write(OPTIONS[:20])
        await until(lambda: server.tcp_connections == 4)
        client = await connect(streams, server.local_port, source="127.0.0.2")
        assert await served(client)
        assert await closed(tricklers[0])  # the oldest made room
        assert server.tcp_connections == 4
    finally:
        await server.close()


async def test_a_full_table_of_real_clients_refuses_new_connections(
    streams: list[Stream],
) -> None:
    server = await echo_server(TcpLimits(max_connections=2, max_per_source=10))
    try:
        clients = [await connect(streams, server.local_port) for _ in range(2)]
        assert all([await served(s) for s in clients])
        assert await closed(await connect(streams, server.local_port))
        assert all([await served(s) for s in clients])
    finally:
        await server.close()


async def test_a_message_trickled_too_slowly_is_cut_off(streams: list[Stream]) -> None:
    server = await echo_server(TcpLimits(read_seconds=0.3, idle_seconds=60))
    try:
        slow = await connect(streams, server.local_port)
        quiet = await connect(streams, server.local_port)
        assert await served(quiet)
        reader, writer = slow
        for byte in OPTIONS[:40]:  # one byte every 20 ms: the header would take 4 s
            if reader.at_eof() or reader.exception() is not None or writer.is_closing():
                break  # cut off (a reset shows as the reader's exception, not as EOF)
            try:
                writer.write(bytes([byte]))
            except (RuntimeError, ConnectionError):  # uvloop: the transport is closed already
                break
            await asyncio.sleep(0.02)
        assert await closed(slow, timeout=2)
        assert await served(quiet)  # silent but under the idle limit: kept
    finally:
        await server.close()


async def test_a_silent_connection_is_closed_and_pings_keep_one_open(
    streams: list[Stream],
) -> None:
    server = await echo_server(TcpLimits(idle_seconds=0.4))
    try:
        silent = await connect(streams, server.local_port)
        pinging = await connect(streams, server.local_port)
        for _ in range(8):  # 0.8 s, pinging every 0.1 s
            pinging[1].write(b"\r\n\r\n")
            assert await asyncio.wait_for(pinging[0].readexactly(2), 5) == b"\r\n"
            await asyncio.sleep(0.1)
        assert await closed(silent, timeout=2)
        assert await served(pinging)
    finally:
        await server.close()


async def test_refusals_are_logged_as_bounded_summaries_without_tracebacks(
    streams: list[Stream], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="callbridge")
    server = await echo_server(TcpLimits(max_per_source=1))
    try:
        await connect(streams, server.local_port)
        refused = [await connect(streams, server.local_port) for _ in range(50)]
        for stream in refused:
            assert await closed(stream)
        bad = await connect(streams, server.local_port, source="127.0.0.2")
        bad[1].write(OPTIONS.replace(b"Length: 0", b"Length: " + b"x" * 2000))
        assert (await asyncio.wait_for(bad[0].read(), 5)).startswith(b"SIP/2.0 400")
    finally:
        await server.close()
    records = [r for r in caplog.records if r.name.startswith("callbridge")]
    assert all(r.exc_info is None for r in records)
    assert all(len(r.getMessage()) < 300 for r in records)
    assert len(records) <= 3, [r.getMessage() for r in records]
    text = " ".join(r.getMessage() for r in records)
    assert "over the per-source limit" in text
    assert "framing error (400)" in text

"""Slow HTTP clients on the real server (``callbridge serve``, uvicorn): a body that
trickles in, or never comes, is answered 408 once ``[http] body_timeout`` has passed and
its connection closed; a response to a request whose body was not read closes the
connection too; a head (request line and headers) trickled past ``[http] header_timeout``
closes the connection.  Before, each such connection was held open for ever.  Long
request lines are logged cut."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from peers.net import free_tcp_port
from server_process import Server, write_config

KEY = "body-timeout-key-0123456789abcdef"
BODY_TIMEOUT = 1.0
HEADER_TIMEOUT = 1.0
GIVE_UP = 8.0  # the old server never answered: this bounds the test instead


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=free_tcp_port(),
        http_port=http_port,
        rtp_ports=(45000, 45099),
        node="body-timeout-test",
        api_key=KEY,
    )
    timeouts = f"body_timeout = {BODY_TIMEOUT}\nheader_timeout = {HEADER_TIMEOUT}\n"
    text = config.read_text().replace("[http]\n", f"[http]\n{timeouts}", 1)
    config.write_text(text)
    instance = Server(config, http_port, tmp_path / "server.log")
    await instance.start()
    yield instance
    await instance.stop()
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


def head(method: str, path: str, length: int) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\napikey: {KEY}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


async def trickle_until_answered(
    server: Server, request: bytes, body: bytes, *, answered_before: int = 0
) -> bytes:
    """Send ``request``, then ``body`` a byte every 0.1 s until an answer starts (after
    the ``answered_before`` that ``request`` gets); all the server sent until it closed
    the connection (or GIVE_UP seconds passed)."""
    port = int(server.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    answer = bytearray()

    async def trickle() -> None:
        for byte in body:
            if answer.count(b"HTTP/1.1 ") > answered_before:
                return  # a byte sent after the server's close would reset the connection
            writer.write(bytes([byte]))
            await asyncio.sleep(0.1)

    sender = asyncio.create_task(trickle())
    try:
        async with asyncio.timeout(GIVE_UP):
            while chunk := await reader.read(4096):
                answer += chunk
    except TimeoutError:
        answer += b"(no close within the limit)"
    except ConnectionError:
        answer += b"(reset)"
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
        writer.close()
    return bytes(answer)


async def test_a_trickled_body_gets_408_and_the_connection_is_closed(server: Server) -> None:
    body = b"to=%2B15550100&from=15550001&url=http%3A%2F%2F127.0.0.1%2Fapp" + b"&x=y" * 40
    answer = await trickle_until_answered(server, head("POST", "/api/v2/calls", len(body)), body)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b'"body_timeout"' in answer
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/health")).status_code == 200


async def test_a_body_that_never_comes_gets_408(server: Server) -> None:
    answer = await trickle_until_answered(server, head("POST", "/api/v2/calls", 50), b"")
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


async def test_a_response_before_the_body_was_read_closes_the_connection(
    server: Server,
) -> None:
    answer = await trickle_until_answered(server, head("GET", "/health", 400), b"x" * 400)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert b"connection: close" in answer.lower()


@pytest.mark.parametrize(
    "before",
    [b"", b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"],
    ids=["new connection", "kept alive"],
)
async def test_a_trickled_head_closes_the_connection(server: Server, before: bytes) -> None:
    """On a new connection, and on a kept-alive one after a first response."""
    trickled = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"s" * 200
    answer = await trickle_until_answered(
        server, before, trickled, answered_before=1 if before else 0
    )
    assert answer.endswith(b"}") or answer == b"", answer[-200:]  # closed, nothing more
    assert answer.count(b"HTTP/1.1 200 ") == (1 if before else 0)


async def test_a_long_request_line_is_logged_cut(server: Server, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get("/health-" + "a" * 12_000)
    assert response.status_code == 404
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "more characters" in log
    assert max(len(line) for line in log.splitlines()) < 2000

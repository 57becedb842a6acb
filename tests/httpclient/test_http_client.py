"""HttpClient, and ProcessHttpClient (the same requests made by a worker process),
against a real HTTP server (uvicorn) on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from callbridge.callflow.errors import FetchError
from callbridge.calls.http_fetch import check_url, fetch_bounded
from callbridge.httpclient.client import (
    NO_ANSWER,
    BodyTooLarge,
    HttpClient,
    HttpFailure,
    HttpTimeout,
)
from callbridge.httpclient.port import HttpRequests
from callbridge.httpclient.process import ProcessHttpClient
from webhook_receiver import LOOPBACK_ALLOWED, serve_app

LIMIT = 1000


async def echo(request: Request) -> Response:
    body = await request.body()
    text = f"{request.method} {request.url.query} {body.decode()} {request.headers.get('x-sig')}"
    return PlainTextResponse(text)


async def redirect(_request: Request) -> Response:
    return RedirectResponse("/echo?moved=1", status_code=302)


async def failing(_request: Request) -> Response:
    return PlainTextResponse("no", status_code=503)


async def declared_big(_request: Request) -> Response:
    return PlainTextResponse("x" * (LIMIT + 1))


async def streamed_big(_request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"y" * 100

    return StreamingResponse(chunks())


async def slow(_request: Request) -> Response:
    await asyncio.sleep(1)
    return PlainTextResponse("late")


APP = Starlette(
    routes=[
        Route("/echo", echo, methods=["GET", "POST"]),
        Route("/redirect", redirect, methods=["GET", "POST"]),
        Route("/failing", failing, methods=["GET", "POST"]),
        Route("/big", declared_big),
        Route("/stream", streamed_big),
        Route("/slow", slow, methods=["GET", "POST"]),
    ]
)


@pytest.fixture
async def base() -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server, task = await serve_app(APP, sock)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
    sock.close()


@pytest.fixture(params=["in-process", "worker-process"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[HttpRequests]:
    made: HttpClient | ProcessHttpClient
    if request.param == "in-process":
        made = HttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0)
    else:
        made = ProcessHttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0)
    async with made:
        yield made


async def test_send_posts_the_body_and_headers_as_given_and_answers_the_status(
    base: str, client: HttpRequests
) -> None:
    headers = [("Content-Type", "application/x-www-form-urlencoded"), ("X-Sig", "abc")]
    assert await client.send("POST", f"{base}/echo", headers=headers, body=b"a=1") == 200
    assert await client.send("POST", f"{base}/failing", headers=headers, body=b"a=1") == 503


async def test_send_does_not_follow_redirects(base: str, client: HttpRequests) -> None:
    assert await client.send("GET", f"{base}/redirect", headers=(), body=b"") == 302


async def test_fetch_sends_params_in_the_query_or_as_a_form(
    base: str, client: HttpRequests
) -> None:
    got = await client.fetch("GET", f"{base}/echo?a=1", params={"b": "2"}, max_bytes=LIMIT)
    assert got == b"GET a=1&b=2  None"
    got = await client.fetch("POST", f"{base}/echo", form={"Digits": "12#"}, max_bytes=LIMIT)
    assert got == b"POST  Digits=12%23 None"


async def test_fetch_follows_redirects(base: str, client: HttpRequests) -> None:
    assert await client.fetch("GET", f"{base}/redirect", max_bytes=LIMIT) == b"GET moved=1  None"


@pytest.mark.parametrize("path", ["/big", "/stream"])
async def test_fetch_refuses_a_body_over_the_limit(
    base: str, client: HttpRequests, path: str
) -> None:
    with pytest.raises(BodyTooLarge, match="limit"):
        await client.fetch("GET", f"{base}{path}", max_bytes=LIMIT)


async def test_fetch_refuses_a_non_2xx_answer(base: str, client: HttpRequests) -> None:
    with pytest.raises(HttpFailure, match="answered 503"):
        await client.fetch("GET", f"{base}/failing", max_bytes=LIMIT)


async def test_a_slow_server_and_a_refused_connection_fail_alike(
    base: str, client: HttpRequests
) -> None:
    """The messages reach customers (call events, webhooks' lastError): a silent port and
    a closed one must not be told apart (a port-scan oracle)."""
    with pytest.raises(HttpTimeout) as slow_fetch:
        await client.fetch("GET", f"{base}/slow", max_bytes=LIMIT, timeout=0.2)
    with pytest.raises(HttpTimeout) as slow_send:
        await client.send("POST", f"{base}/slow", headers=(), body=b"", timeout=0.2)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/x"
        with pytest.raises(HttpFailure) as refused_send:
            await client.send("POST", url, headers=(), body=b"x")
        with pytest.raises(HttpFailure) as refused_fetch:
            await client.fetch("GET", url, max_bytes=LIMIT)
    messages = {str(e.value) for e in (slow_fetch, slow_send, refused_send, refused_fetch)}
    assert messages == {NO_ANSWER}


async def test_fetch_bounded_words_every_failure_as_a_fetch_error(
    base: str, client: HttpRequests
) -> None:
    with pytest.raises(FetchError, match="answered 503"):
        await fetch_bounded(client, f"{base}/failing", max_bytes=LIMIT, timeout=1.0)
    with pytest.raises(FetchError, match="no answer"):
        await fetch_bounded(client, f"{base}/slow", max_bytes=LIMIT, timeout=0.2)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "/relative", "ftp://host/x", "http://", "http://[::1/x"]
)
def test_only_absolute_http_urls_are_fetched(url: str) -> None:
    with pytest.raises(FetchError):
        check_url(url)

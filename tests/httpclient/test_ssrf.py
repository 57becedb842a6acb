"""The address policy against real HTTP servers on loopback (issue 15, item 12): both
clients (in process, and the worker process) connect only where the policy allows, after
DNS resolution and on every redirect hop, and a failure tells a customer nothing about the
ports behind it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from callbridge.callflow.errors import FetchError
from callbridge.calls.http_fetch import fetch_bounded
from callbridge.httpclient.address_policy import AddressPolicy
from callbridge.httpclient.client import NO_ANSWER, AddressBlocked, HttpClient, HttpFailure
from callbridge.httpclient.process import ProcessHttpClient
from webhook_receiver import serve_app

LIMIT = 1000
DEFAULT = AddressPolicy.from_entries()  # loopback refused
ONLY_127_0_0_1 = AddressPolicy.from_entries(allow=("127.0.0.1/32",))
LOOPBACK_RULE = 'deny_networks "127.0.0.0/8"'


class Server:
    """A real HTTP server on ``host``: ``/ok`` answers, ``/to?url=U`` redirects to ``U``;
    every request is recorded."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.paths: list[str] = []

    async def _ok(self, request: Request) -> Response:
        self.paths.append(request.url.path)
        return PlainTextResponse("ok")

    async def _to(self, request: Request) -> Response:
        self.paths.append(request.url.path)
        return RedirectResponse(request.query_params["url"], status_code=302)

    async def serve(self) -> AsyncIterator[str]:
        ok = Route("/ok", self._ok, methods=["GET", "POST"])
        app = Starlette(routes=[ok, Route("/to", self._to)])
        sock = socket.socket()
        sock.bind((self.host, 0))
        server, task = await serve_app(app, sock)
        try:
            yield f"http://{self.host}:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True
            await task
            sock.close()


@pytest.fixture
async def here() -> AsyncIterator[tuple[Server, str]]:
    server = Server("127.0.0.1")
    async for base in server.serve():
        yield server, base


@pytest.fixture
async def elsewhere() -> AsyncIterator[tuple[Server, str]]:
    server = Server("127.0.0.2")
    async for base in server.serve():
        yield server, base


def make_client(kind: str, policy: AddressPolicy, timeout: float = 5.0) -> Any:
    if kind == "in-process":
        return HttpClient(policy=policy, timeout=timeout)
    return ProcessHttpClient(policy=policy, timeout=timeout)


CLIENTS = pytest.mark.parametrize("kind", ["in-process", "worker-process"])


@CLIENTS
async def test_a_loopback_server_is_blocked_by_default_and_nothing_reaches_it(
    kind: str, here: tuple[Server, str]
) -> None:
    server, base = here
    async with make_client(kind, DEFAULT) as client:
        with pytest.raises(AddressBlocked) as fetched:
            await client.fetch("GET", f"{base}/ok", max_bytes=LIMIT)
        with pytest.raises(AddressBlocked) as sent:
            await client.send("POST", f"{base}/ok", headers=(), body=b"x")
    assert server.paths == []
    for error in (fetched, sent):
        assert LOOPBACK_RULE in str(error.value)
        assert "allow_networks" in str(error.value)


@CLIENTS
@pytest.mark.parametrize("host", ["localhost", "[::ffff:127.0.0.1]", "[::1]"])
async def test_names_and_ipv6_forms_of_loopback_are_blocked(
    kind: str, host: str, here: tuple[Server, str]
) -> None:
    """``localhost`` is checked after resolution; IPv4-mapped IPv6 as the IPv4 it reaches."""
    server, base = here
    port = base.rsplit(":", 1)[1]
    async with make_client(kind, DEFAULT) as client:
        with pytest.raises(AddressBlocked, match="deny_networks"):
            await client.fetch("GET", f"http://{host}:{port}/ok", max_bytes=LIMIT)
    assert server.paths == []


@CLIENTS
async def test_a_redirect_to_a_denied_address_is_blocked_at_the_hop(
    kind: str, here: tuple[Server, str], elsewhere: tuple[Server, str]
) -> None:
    (first, base), (second, other) = here, elsewhere
    async with make_client(kind, ONLY_127_0_0_1) as client:
        assert await client.fetch("GET", f"{base}/to?url={base}/ok", max_bytes=LIMIT) == b"ok"
        with pytest.raises(AddressBlocked, match=LOOPBACK_RULE):
            await client.fetch("GET", f"{base}/to?url={other}/ok", max_bytes=LIMIT)
    assert first.paths == ["/to", "/ok", "/to"]
    assert second.paths == [], "the denied hop was reached"


@CLIENTS
async def test_allow_networks_opens_an_address_and_a_name_resolving_to_it(
    kind: str, here: tuple[Server, str]
) -> None:
    """``localhost`` is also ``::1``, which stays denied: the allowed address is used."""
    server, base = here
    port = base.rsplit(":", 1)[1]
    async with make_client(kind, ONLY_127_0_0_1) as client:
        assert await client.fetch("GET", f"{base}/ok", max_bytes=LIMIT) == b"ok"
        assert await client.fetch("GET", f"http://localhost:{port}/ok", max_bytes=LIMIT) == b"ok"
        assert await client.send("POST", f"{base}/ok", headers=(), body=b"") == 200
    assert server.paths == ["/ok", "/ok", "/ok"]


@pytest.fixture
async def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every connection this process's event loop attempts, refused and recorded (so a
    failing test sends nothing off loopback either)."""
    attempts: list[Any] = []
    loop = asyncio.get_running_loop()

    async def refuse(_sock: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise ConnectionRefusedError(f"the test refuses {address}")

    monkeypatch.setattr(loop, "sock_connect", refuse)
    return attempts


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1%251]/",
        "http://[::ffff:169.254.169.254]/",
        "http://0.0.0.0:80/",
        "http://100.64.0.1/",
        "http://[fd00::1]/",
    ],
)
async def test_metadata_and_private_addresses_are_blocked_without_a_connection_attempt(
    url: str, no_connections: list[Any]
) -> None:
    async with HttpClient(policy=DEFAULT, timeout=5.0) as client:
        with pytest.raises(AddressBlocked, match="deny_networks"):
            await client.fetch("GET", url, max_bytes=LIMIT)
        with pytest.raises(AddressBlocked, match="deny_networks"):
            await client.send("POST", url, headers=(), body=b"")
    assert no_connections == []


async def test_legacy_numeric_forms_of_an_address_are_refused_unconnected(
    no_connections: list[Any],
) -> None:
    async with HttpClient(policy=DEFAULT, timeout=5.0) as client:
        for url in ("http://2852039166/", "http://169.254.43518/", "http://0xa9fea9fe/"):
            with pytest.raises(HttpFailure):
                await client.fetch("GET", url, max_bytes=LIMIT)
    assert no_connections == []


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        yield sock.getsockname()[1]


@pytest.fixture
def filtered_port() -> Iterator[int]:
    """A port whose SYNs are dropped, as a firewall's are: its accept queue is full."""
    with socket.socket() as listener, socket.socket() as queued:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        queued.connect(listener.getsockname())
        yield listener.getsockname()[1]


@CLIENTS
async def test_a_closed_port_and_a_filtered_one_fail_alike(
    kind: str, closed_port: int, filtered_port: int
) -> None:
    """The messages reach the API user (call events, webhooks' lastError): they must not
    tell an open, closed or filtered port apart."""
    messages = []
    async with make_client(kind, ONLY_127_0_0_1, timeout=0.5) as client:
        for port in (closed_port, filtered_port):
            url = f"http://127.0.0.1:{port}/x"
            with pytest.raises(FetchError) as fetched:
                await fetch_bounded(client, url, max_bytes=LIMIT, timeout=0.5)
            with pytest.raises(HttpFailure) as sent:
                await client.send("POST", url, headers=(), body=b"", timeout=0.5)
            messages += [str(fetched.value), str(sent.value)]
    assert set(messages) == {NO_ANSWER}

"""A real HTTP receiver for webhook tests: uvicorn serving Starlette on 127.0.0.1.

It records every request with the status it answered.  A path listed in ``documents``
answers that body as XML (the voice-application documents of call tests), one in ``files``
its bytes (audio). Its port is reserved at
construction (bound, not listening: connections are refused) so a test can start it
late, stop it and start it again on the same URL.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from callbridge.httpclient.address_policy import AddressPolicy

# The default deny rules with loopback allowed, for the receivers of the tests (a server's
# own default refuses loopback: see callbridge.httpclient.address_policy).
LOOPBACK_ALLOWED = AddressPolicy.from_entries(allow=("127.0.0.0/8", "::1/128"))


@dataclass(frozen=True, kw_only=True)
class Received:
    method: str
    path: str
    query: str
    body: bytes
    headers: dict[str, str]
    status: int

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))

    @property
    def query_params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query))


async def serve_app(
    app: Starlette, sock: socket.socket
) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    """Serve ``app`` with uvicorn on the bound ``sock``; returns once it listens (stop it
    with ``server.should_exit = True`` and await the task)."""
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    return server, task


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.status = 200
        self.delay = 0.0  # seconds before answering
        self.documents: dict[str, str | Callable[[Received], str]] = {}
        self.files: dict[str, bytes] = {}  # served as they are (audio for <Play>)
        self._sock = self._bind(0)
        self.port: int = self._sock.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.status < 300]

    async def start(self) -> None:
        if self._sock.fileno() == -1:
            self._sock = self._bind(self.port)
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST"])])
        self._server, self._task = await serve_app(app, self._sock)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None
        self._sock.close()

    async def wait_for(self, condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met; received {len(self.requests)}")
            await asyncio.sleep(0.01)

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        status = self.status
        self.requests.append(
            Received(
                method=request.method,
                path=request.url.path,
                query=request.url.query,
                body=body,
                headers={k.lower(): v for k, v in request.headers.items()},
                status=status,
            )
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        file = self.files.get(request.url.path)
        if file is not None and status < 300:
            return Response(file, media_type="application/octet-stream")
        document = self.documents.get(request.url.path)
        if document is not None and status < 300:
            body_text = document if isinstance(document, str) else document(self.requests[-1])
            return Response(body_text, media_type="application/xml")
        return PlainTextResponse("ok" if status < 300 else "no", status_code=status)

    @staticmethod
    def _bind(port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        return sock

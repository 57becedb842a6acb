"""ProcessHttpClient: the server's outgoing HTTP requests, made by a child process.

A call placed through the API makes five requests (its voice document and four status
callbacks), and aiohttp cost about 0.25 ms of CPU each: with the event loop's share, the
largest part of a call's CPU that is not the call itself.  Handing a request to the worker
(:mod:`.worker`) over a pipe costs this process a frame each way (:mod:`.frames`), and
the requests run on the machine's other core.

The worker is started on the first request and again on the first request after it has
died (at most once a second: a worker that cannot start does not respawn in a loop).  A
request that was with a worker that died fails with :class:`HttpFailure`, as a
transport error would; whoever sent it retries as for any failure (the webhook
dispatcher does).  Each request also has a deadline here, its own timeout and
:data:`GRACE`, so a worker that stops answering cannot hold a caller.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, cast

from callbridge.httpclient.address_policy import AddressPolicy
from callbridge.httpclient.client import NO_ANSWER, HttpFailure, HttpTimeout
from callbridge.httpclient.frames import OK, Frame, FrameError, FrameReader, encode, reply_exception

log = logging.getLogger(__name__)

GRACE = 5.0  # seconds past a request's own timeout before this side gives up on it
RESPAWN_INTERVAL = 1.0
STOP_WAIT = 5.0


class _Channel(asyncio.SubprocessProtocol):
    """The worker's pipes: replies in on its standard output; its exit."""

    def __init__(self, client: ProcessHttpClient) -> None:
        self._client = client
        self._reader = FrameReader()
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        try:
            frames = self._reader.feed(data)
        except FrameError:
            log.exception("the HTTP worker sent something that is not a frame")
            return
        for frame in frames:
            self._client.replied(frame)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)
        self._client.worker_exited(self)


class ProcessHttpClient:
    """:class:`~callbridge.httpclient.port.HttpRequests` made by a worker process; use it
    as an async context manager (or call :meth:`close`)."""

    def __init__(
        self,
        *,
        policy: AddressPolicy,
        timeout: float = 10.0,
        connections: int = 200,
        command: Sequence[str] | None = None,
        grace: float = GRACE,
        log_format: str = "text",
    ) -> None:
        """``policy`` says which addresses the worker may connect to; ``command`` runs the
        worker (tests give another program); ``grace`` is how long past a request's timeout
        its answer is waited for; ``log_format`` is the worker's log lines' (``[log] format``)."""
        self._timeout = timeout
        self._grace = grace
        self._command = list(command or (sys.executable, "-m", "callbridge.httpclient.worker"))
        self._command += ["--timeout", str(timeout), "--connections", str(connections)]
        self._command += ["--policy", policy.to_json(), "--log-format", log_format]
        self._transport: asyncio.SubprocessTransport | None = None
        self._channel: _Channel | None = None
        self._starting = asyncio.Lock()
        self._started_at = -RESPAWN_INTERVAL
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Frame]] = {}
        self._closed = False
        self.restarts = 0  # workers that exited while the client was open (/metrics)

    async def __aenter__(self) -> ProcessHttpClient:
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        timeout: float | None = None,
    ) -> int:
        request = ("send", method, url, [list(h) for h in headers], body, timeout)
        return cast(int, await self._call(request, timeout))

    async def fetch(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        max_bytes: int,
        timeout: float | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> bytes:
        request = (
            "fetch",
            method,
            url,
            _plain(params) if params else None,
            _plain(form) if form is not None else None,
            max_bytes,
            timeout,
            [list(h) for h in headers],
        )
        return cast(bytes, await self._call(request, timeout))

    @property
    def worker_pid(self) -> int | None:
        """The running worker's process id (``None`` before the first request)."""
        return self._transport.get_pid() if self._transport is not None else None

    async def close(self) -> None:
        """Close the worker's input (it exits), wait for it briefly, then kill it."""
        self._closed = True
        transport, channel = self._transport, self._channel
        self._transport = self._channel = None
        if transport is not None and channel is not None:
            _stdin(transport).close()
            try:
                async with asyncio.timeout(STOP_WAIT):
                    await asyncio.shield(channel.exited)
            except TimeoutError:
                log.warning("the HTTP worker did not stop in %g s; killing it", STOP_WAIT)
                transport.kill()
            transport.close()
        self._fail_pending("the HTTP client was closed")

    def replied(self, frame: Frame) -> None:
        future = self._pending.get(frame[0])
        if future is not None and not future.done():
            future.set_result(frame)

    def worker_exited(self, channel: _Channel) -> None:
        if channel is not self._channel:
            return
        transport = self._transport
        code = transport.get_returncode() if transport is not None else None
        self._transport = self._channel = None
        if transport is not None:
            transport.close()
        if not self._closed:
            self.restarts += 1
            log.warning("the HTTP worker exited (code %s); it starts again when needed", code)
        self._fail_pending(f"the HTTP worker exited (code {code})")

    async def _call(self, request: tuple[Any, ...], timeout: float | None) -> Any:
        transport = await self._worker()
        request_id = next(self._ids)
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            _stdin(transport).write(encode((request_id, *request)))
            limit = (self._timeout if timeout is None else timeout) + self._grace
            async with asyncio.timeout(limit):
                reply = await future
        except TimeoutError as exc:
            log.warning("the HTTP worker did not answer %s %s in time", request[1], request[2])
            raise HttpTimeout(NO_ANSWER) from exc
        finally:
            self._pending.pop(request_id, None)
        _, kind, value = reply
        if kind == OK:
            return value
        raise reply_exception(kind, value)

    async def _worker(self) -> asyncio.SubprocessTransport:
        if self._transport is not None:
            return self._transport
        async with self._starting:
            if self._transport is not None:
                return self._transport
            if self._closed:
                raise HttpFailure("the HTTP client is closed")
            if time.monotonic() - self._started_at < RESPAWN_INTERVAL:
                raise HttpFailure("the HTTP worker is restarting")
            self._started_at = time.monotonic()
            loop = asyncio.get_running_loop()
            transport, channel = await loop.subprocess_exec(
                lambda: _Channel(self),
                *self._command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=None,
            )
            self._transport, self._channel = transport, channel
            return transport

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(HttpFailure(reason))


def _stdin(transport: asyncio.SubprocessTransport) -> asyncio.WriteTransport:
    pipe = transport.get_pipe_transport(0)
    assert pipe is not None, "the worker's input is a pipe"
    return cast(asyncio.WriteTransport, pipe)


def _plain(fields: Mapping[str, str]) -> dict[str, str]:
    """The fields as plain ``str``: ``marshal`` refuses str subclasses (a ``StrEnum`` such as
    ``CallStatus``), which would fail the request at the worker's door."""
    return {str(name): str(value) for name, value in fields.items()}

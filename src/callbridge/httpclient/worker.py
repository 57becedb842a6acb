"""The HTTP worker process: the server's outgoing requests, made on the other core.

``python -m callbridge.httpclient.worker --timeout 10 --connections 200 --policy JSON``
(the :class:`AddressPolicy` its connections keep to) reads request
frames (:mod:`.frames`) on its standard input, makes each request at once on one pooled
:class:`HttpClient` and writes its reply frame on its standard output, in the order the
answers come.  It exits when its standard input closes (the server stopped or died),
dropping the requests still running.  Logs go to standard error, which it shares with
the server.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import Any

import uvloop

from callbridge.httpclient.address_policy import AddressPolicy
from callbridge.httpclient.client import HttpClient, HttpFailure
from callbridge.httpclient.frames import OK, Frame, FrameError, FrameReader, encode, failure_reply

log = logging.getLogger(__name__)


class _Requests(asyncio.Protocol):
    """Standard input: each frame becomes a task of the worker's group."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._reader = FrameReader()

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._reader.feed(data)
        except FrameError:
            log.exception("the server sent something that is not a frame; stopping")
            self._worker.stop()
            return
        for frame in frames:
            self._worker.start(frame)

    def eof_received(self) -> bool:
        self._worker.stop()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._worker.stop()


class Worker:
    def __init__(self, *, client: HttpClient, replies: asyncio.WriteTransport) -> None:
        self._client = client
        self._replies = replies
        self._group = asyncio.TaskGroup()
        self._stopped = asyncio.Event()

    async def run(self, requests: Any) -> None:
        """Answer the frames read from ``requests`` (a pipe) until it closes."""
        loop = asyncio.get_running_loop()
        async with self._group:
            await loop.connect_read_pipe(lambda: _Requests(self), requests)
            await self._stopped.wait()
            raise _Stopped  # cancels the requests still running

    def start(self, frame: Frame) -> None:
        if not self._stopped.is_set():
            self._group.create_task(self._answer(frame))

    def stop(self) -> None:
        self._stopped.set()

    async def _answer(self, frame: Frame) -> None:
        request_id = frame[0]
        try:
            value = await self._request(frame)
        except HttpFailure as exc:
            reply: Frame = failure_reply(request_id, exc)
        except (ValueError, TypeError, IndexError) as exc:  # a malformed request frame
            reply = (request_id, "failure", f"bad request frame: {exc}")
        else:
            reply = (request_id, OK, value)
        self._replies.write(encode(reply))

    async def _request(self, frame: Frame) -> Any:
        op = frame[1]
        if op == "send":
            _, _, method, url, headers, body, timeout = frame
            return await self._client.send(
                method, url, headers=[tuple(h) for h in headers], body=body, timeout=timeout
            )
        if op == "fetch":
            _, _, method, url, params, form, max_bytes, timeout, headers = frame
            return await self._client.fetch(
                method,
                url,
                params=params,
                form=form,
                max_bytes=max_bytes,
                timeout=timeout,
                headers=[tuple(h) for h in headers],
            )
        raise ValueError(f"unknown operation {op!r}")


class _Stopped(Exception):
    pass


async def serve(*, policy: AddressPolicy, timeout: float, connections: int) -> None:
    loop = asyncio.get_running_loop()
    replies, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout.buffer)
    async with HttpClient(policy=policy, timeout=timeout, connections=connections) as client:
        worker = Worker(client=client, replies=replies)
        try:
            await worker.run(sys.stdin.buffer)
        except* _Stopped:
            pass
    replies.close()


def yield_to_server() -> None:
    """Put this process in Linux's ``SCHED_BATCH`` class: it never preempts the server.

    A write to a pipe wakes its reader on the writer's own CPU (a "sync" wakeup), and
    there a woken worker preempted the server in about half of its writes (an
    involuntary context switch each), stalling the server's loop while the worker ran.
    A batch process is not allowed to preempt on wakeup: it runs when that CPU is next
    free, or on the other one.  Elsewhere (no ``SCHED_BATCH``) this does nothing."""
    batch = getattr(os, "SCHED_BATCH", None)
    if batch is not None:
        try:
            os.sched_setscheduler(0, batch, os.sched_param(0))
        except OSError as exc:
            log.warning("SCHED_BATCH refused: %s", exc)


def ignore_shutdown_signals() -> None:
    """SIGINT (Ctrl+C reaches the whole process group) and SIGTERM (systemd signals every
    process of the unit) are the server's to handle: it drains its calls, whose callbacks
    still go out through this worker.  The worker ends when its standard input closes."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="callbridge.httpclient.worker")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--policy", type=AddressPolicy.from_json, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    ignore_shutdown_signals()
    yield_to_server()
    uvloop.run(serve(policy=args.policy, timeout=args.timeout, connections=args.connections))


if __name__ == "__main__":
    main()

"""ProcessHttpClient when its worker dies, hangs or cannot start; and the frames."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from callbridge.httpclient import process
from callbridge.httpclient.client import BodyTooLarge, HttpFailure, HttpTimeout
from callbridge.httpclient.frames import (
    MAX_FRAME,
    FrameError,
    FrameReader,
    encode,
    failure_reply,
    reply_exception,
)
from callbridge.httpclient.process import ProcessHttpClient
from callbridge.vocabulary import CallStatus
from webhook_receiver import LOOPBACK_ALLOWED, serve_app

SILENT_WORKER = [sys.executable, "-c", "import sys; sys.stdin.buffer.read()"]
EXITING_WORKER = [sys.executable, "-c", "raise SystemExit(3)"]


async def hold(_request: Request) -> Response:
    await asyncio.sleep(2)  # the worker is killed meanwhile
    return PlainTextResponse("late")


async def ok(_request: Request) -> Response:
    return PlainTextResponse("ok")


@pytest.fixture
async def base() -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/hold", hold), Route("/ok", ok, methods=["GET", "POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server, task = await serve_app(app, sock)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    await task
    sock.close()


async def test_requests_run_at_once_in_one_worker(base: str) -> None:
    async with ProcessHttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0) as client:
        statuses = await asyncio.gather(
            *(client.send("POST", f"{base}/ok", headers=(), body=b"x") for _ in range(50))
        )
        assert statuses == [200] * 50
        assert client.worker_pid is not None


async def test_fields_that_are_str_enums_cross_to_the_worker_as_plain_text(base: str) -> None:
    """A ``StrEnum`` value (``CallStatus``) in a document's fields once failed the fetch:
    ``marshal`` refuses str subclasses."""
    async with ProcessHttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0) as client:
        body = await client.fetch(
            "POST",
            f"{base}/ok",
            params={"CallStatus": CallStatus.IN_PROGRESS},
            max_bytes=100,
        )
        assert body == b"ok"


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux's scheduling classes")
async def test_the_worker_runs_in_the_batch_class_so_it_never_preempts_the_server(
    base: str,
) -> None:
    async with ProcessHttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0) as client:
        assert await client.fetch("GET", f"{base}/ok", max_bytes=100) == b"ok"
        assert client.worker_pid is not None
        assert os.sched_getscheduler(client.worker_pid) == os.SCHED_BATCH
        assert os.sched_getscheduler(0) == os.SCHED_OTHER


async def test_a_request_with_a_worker_that_dies_fails_and_a_new_worker_takes_the_next(
    base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process, "RESPAWN_INTERVAL", 0.0)
    async with ProcessHttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0) as client:
        assert await client.fetch("GET", f"{base}/ok", max_bytes=100) == b"ok"
        first = client.worker_pid
        assert first is not None
        held = asyncio.ensure_future(client.fetch("GET", f"{base}/hold", max_bytes=100))
        await asyncio.sleep(0.3)
        os.kill(first, signal.SIGKILL)
        with pytest.raises(HttpFailure, match="worker exited"):
            await held
        assert await client.fetch("GET", f"{base}/ok", max_bytes=100) == b"ok"
        assert client.worker_pid not in (None, first)


async def test_a_worker_that_never_answers_does_not_hold_the_caller() -> None:
    async with ProcessHttpClient(
        policy=LOOPBACK_ALLOWED, timeout=0.2, command=SILENT_WORKER, grace=0.2
    ) as client:
        with pytest.raises(HttpTimeout, match="no answer"):
            await client.send("POST", "http://127.0.0.1:9/x", headers=(), body=b"")


async def test_a_worker_that_cannot_start_fails_requests_without_respawning_in_a_loop() -> None:
    async with ProcessHttpClient(
        policy=LOOPBACK_ALLOWED, timeout=1.0, command=EXITING_WORKER
    ) as client:
        with pytest.raises(HttpFailure, match=r"worker exited \(code 3\)"):
            await client.send("POST", "http://127.0.0.1:9/x", headers=(), body=b"")
        with pytest.raises(HttpFailure, match="restarting"):
            await client.send("POST", "http://127.0.0.1:9/x", headers=(), body=b"")


async def test_close_stops_the_worker(base: str) -> None:
    client = ProcessHttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0)
    assert await client.send("GET", f"{base}/ok", headers=(), body=b"") == 200
    pid = client.worker_pid
    assert pid is not None
    await client.close()
    assert client.worker_pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(HttpFailure, match="closed"):
        await client.send("GET", f"{base}/ok", headers=(), body=b"")


def test_frames_come_out_whole_whatever_the_chunking() -> None:
    frames = [(1, "send", "POST", "http://x/", [["A", "b"]], b"\x00body", None), (2, "ok", 204)]
    stream = b"".join(encode(frame) for frame in frames)
    reader = FrameReader()
    got = [frame for i in range(len(stream)) for frame in reader.feed(stream[i : i + 1])]
    assert got == frames


def test_failures_keep_their_kind_and_message_across_the_pipe() -> None:
    for exc in (HttpFailure("refused"), HttpTimeout("timed out"), BodyTooLarge("too big")):
        _, kind, message = failure_reply(7, exc)
        again = reply_exception(kind, message)
        assert type(again) is type(exc)
        assert str(again) == str(exc)


@pytest.mark.parametrize(
    "stream",
    [
        (MAX_FRAME + 1).to_bytes(4, "big"),
        b"\x00\x00\x00\x03abc",
        encode(("not", "a frame")),
    ],
)
def test_what_is_not_a_frame_is_refused(stream: bytes) -> None:
    with pytest.raises(FrameError):
        FrameReader().feed(stream)

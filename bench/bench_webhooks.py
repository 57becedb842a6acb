"""Webhook delivery latency: event committed (outbox row written) → request received.

Records ``--events`` call events spread over ``--calls`` calls at ``--rate`` events per
second into a fresh SQLite outbox; a WebhookDispatcher sends them to a local uvicorn
receiver. Prints p50/p90/p99/max latency and the delivery throughput. All in one
process and one event loop (producer, dispatcher and receiver share it). Loopback only.

    .venv/bin/python bench/bench_webhooks.py [--events 2000] [--calls 200] [--rate 100]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from callbridge.httpclient.address_policy import AddressPolicy
from callbridge.httpclient.client import HttpClient
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.records import Callback, NewCall, NewEvent
from callbridge.store.repository import CallRepository
from callbridge.webhooks.dispatcher import WebhookDispatcher

LOOPBACK_ALLOWED = AddressPolicy.from_entries(allow=("127.0.0.0/8",))  # its receivers


class Receiver:
    def __init__(self) -> None:
        self.received: dict[int, float] = {}
        self.done = asyncio.Event()
        self.expected = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]

    async def handle(self, request: Request) -> PlainTextResponse:
        at = time.perf_counter()
        params = dict(parse_qsl((await request.body()).decode()))
        self.received[int(params["BenchId"])] = at
        if len(self.received) >= self.expected:
            self.done.set()
        return PlainTextResponse("ok")

    def server(self) -> uvicorn.Server:
        app = Starlette(routes=[Route("/hook", self.handle, methods=["POST"])])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        return uvicorn.Server(config)


async def produce(calls: CallRepository, args: argparse.Namespace, url: str) -> dict[int, float]:
    clock = SystemClock()
    sids = [f"CAbench{c:05d}" for c in range(args.calls)]
    for sid in sids:
        await calls.create_call(
            NewCall(sid=sid, direction="outbound", from_="1", to="2", node="bench")
        )
    committed: dict[int, float] = {}
    interval = 1.0 / args.rate
    start = time.perf_counter()
    for n in range(args.events):
        await asyncio.sleep(max(0.0, start + n * interval - time.perf_counter()))
        sid = sids[n % len(sids)]
        params = {"CallSid": sid, "CallStatus": "ringing", "BenchId": str(n)}
        event = NewEvent(name="ringing", at=clock.now())
        await calls.record_event_with_delivery(sid, event, params, Callback(url=url))
        committed[n] = time.perf_counter()
    return committed


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


async def run(args: argparse.Namespace, workdir: Path) -> None:
    receiver = Receiver()
    receiver.expected = args.events
    server = receiver.server()
    serving = asyncio.create_task(server.serve(sockets=[receiver.sock]))
    database = Database(url=f"sqlite+aiosqlite:///{workdir / 'bench.db'}")
    await database.migrate()
    async with HttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0) as client:
        dispatcher = WebhookDispatcher(database=database, client=client, clock=SystemClock())
        calls = CallRepository(database=database, clock=SystemClock(), listener=dispatcher)
        dispatcher.start()
        try:
            started = time.perf_counter()
            committed = await produce(calls, args, f"http://127.0.0.1:{receiver.port}/hook")
            await asyncio.wait_for(receiver.done.wait(), timeout=120)
            elapsed = time.perf_counter() - started
        finally:
            await dispatcher.close()
            server.should_exit = True
            await serving
            await database.close()
    report(args, committed, receiver.received, elapsed)


def report(
    args: argparse.Namespace,
    committed: dict[int, float],
    received: dict[int, float],
    elapsed: float,
) -> None:
    latencies = [(received[n] - committed[n]) * 1000 for n in committed]
    print(f"events {args.events} over {args.calls} calls, offered {args.rate}/s")
    print(f"delivered {len(received)} in {elapsed:.2f} s ({len(received) / elapsed:.0f}/s)")
    print(
        "latency ms: "
        f"p50 {percentile(latencies, 0.50):.2f}  p90 {percentile(latencies, 0.90):.2f}  "
        f"p99 {percentile(latencies, 0.99):.2f}  max {max(latencies):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0, help="events per second offered")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()

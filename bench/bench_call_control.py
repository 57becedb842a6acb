"""Inbound calls to a number under call control (seed-004), on loopback, in one process: the
engine, the call service on SQLite with the webhook dispatcher, the control and notify URLs
on a real HTTP server in this process.

A raw UDP caller at a trunk address sends ``--rate`` INVITEs a second for ``--seconds``; the
control URL answers ``<Forward><Target><Number>t@TARGET</Number></Target></Forward>`` at
once; a raw UDP target answers each INVITE 486 (so the call ends as missed, and posts
``HungUp``).  Prints, per call, caller INVITE (handed to the inbound handler) -> target
INVITE, p50/p99, as measured and with the control request's own time (HTTP round trip and
the receiver's answer) subtracted; and each notify post's delay from its event's write to
its arrival at the receiver, p50/p99.

    .venv/bin/python bench/bench_call_control.py [--rate 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from ipaddress import ip_network
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from starlette.requests import Request
from starlette.responses import Response

from callbridge.calls.control.controlled_call import CallControl
from callbridge.calls.control.credentials import authorized_url
from callbridge.calls.control.settings import NumberControl
from callbridge.calls.extensions import ExtensionDialer
from callbridge.calls.inbound.handler import InboundCallHandler
from callbridge.calls.inbound.numbers import InboundNumber, NumberPlan
from callbridge.calls.service import CallbridgeCalls, CallServiceSettings
from callbridge.dialects.voicexml import parse_voice_xml
from callbridge.engine.engine import Engine, EngineSettings, IncomingCall
from callbridge.engine.routing import Trunk
from callbridge.httpclient.client import HttpClient
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.records import Callback, NewEvent, RecordedEvent
from callbridge.store.repository import CallRepository
from callbridge.webhooks.dispatcher import WebhookDispatcher
from webhook_receiver import LOOPBACK_ALLOWED, Receiver

SERVER = ("127.0.0.1", 5221)
CALLER = ("127.0.96.10", 5060)
TARGET = ("127.0.96.20", 5060)
NUMBER = "+4922129191999"
SDP = (
    "v=0\r\no=c 1 1 IN IP4 127.0.96.10\r\ns=-\r\nc=IN IP4 127.0.96.10\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


class Unlimited:
    class _Permit:
        def release(self) -> None:
            pass

    def admit(self, api_key_id: str | None) -> _Permit:
        return self._Permit()


class TimedFetch:
    """The HTTP client, noting how long each document fetch took (by caller)."""

    def __init__(self, inner: HttpClient) -> None:
        self._inner = inner
        self.fetch_seconds: dict[str, float] = {}

    async def send(self, method: str, url: str, **kw: object) -> int:
        return await self._inner.send(method, url, **kw)  # type: ignore[arg-type]

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
        started = time.perf_counter()
        try:
            return await self._inner.fetch(
                method,
                url,
                params=params,
                form=form,
                max_bytes=max_bytes,
                timeout=timeout,
                headers=headers,
            )
        finally:
            caller = (form or params or {}).get("from", "")
            self.fetch_seconds[caller] = time.perf_counter() - started


class Stamped:
    """The inbound handler, noting when each caller's INVITE reached it (by caller user)."""

    def __init__(self, inner: InboundCallHandler) -> None:
        self._inner = inner
        self.arrived: dict[str, float] = {}

    async def handle(self, call: IncomingCall) -> None:
        self.arrived[call.leg.caller.user] = time.perf_counter()
        await self._inner.handle(call)


def header(message: str, name: str) -> str:
    for line in message.split("\r\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == name:
            return value.strip()
    return ""


class Target(asyncio.DatagramProtocol):
    """Answers each INVITE 486 and notes when it came (by From user)."""

    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        text = data.decode(errors="replace")
        if not text.startswith("INVITE "):
            return
        user = header(text, "from").split("sip:", 1)[1].split("@", 1)[0]
        self.received.setdefault(user, time.perf_counter())
        busy = "SIP/2.0 486 Busy Here\r\n" + "".join(
            f"{name}: {header(text, name.lower())}\r\n"
            for name in ("Via", "From", "Call-ID", "CSeq")
        )
        busy += f"To: {header(text, 'to')};tag=t1\r\nContent-Length: 0\r\n\r\n"
        assert self.transport is not None
        self.transport.sendto(busy.encode(), addr)


class Caller(asyncio.DatagramProtocol):
    """Sends INVITEs; ACKs every final response (non-2xx)."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.finals: dict[str, int] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def invite(self, n: int) -> None:
        user = f"c{n}"
        branch = f"z9hG4bK{n}x"
        message = (
            f"INVITE sip:{NUMBER}@{SERVER[0]}:{SERVER[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {CALLER[0]}:{CALLER[1]};branch={branch}\r\n"
            f"From: <sip:{user}@{CALLER[0]}>;tag=f{n}\r\n"
            f"To: <sip:{NUMBER}@{SERVER[0]}>\r\nCall-ID: call-{n}@bench\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:{user}@{CALLER[0]}:{CALLER[1]}>\r\nMax-Forwards: 70\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(SDP)}\r\n\r\n{SDP}"
        )
        assert self.transport is not None
        self.transport.sendto(message.encode(), SERVER)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        text = data.decode(errors="replace")
        if not text.startswith("SIP/2.0 "):
            return
        status = int(text.split(" ", 2)[1])
        if status < 200:
            return
        call_id = header(text, "call-id")
        self.finals[call_id] = status
        ack = (
            f"ACK sip:{NUMBER}@{SERVER[0]}:{SERVER[1]} SIP/2.0\r\n"
            f"Via: {header(text, 'via')}\r\nFrom: {header(text, 'from')}\r\n"
            f"To: {header(text, 'to')}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\n"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        assert self.transport is not None
        self.transport.sendto(ack.encode(), addr)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class StampedStore:
    """The repository, noting when each notify post's event was written."""

    def __init__(self, inner: CallRepository) -> None:
        self._inner = inner
        self.written: dict[tuple[str, str], float] = {}

    async def record_event_with_delivery(
        self,
        call_sid: str,
        event: NewEvent,
        params: Mapping[str, str],
        callback: Callback | None,
        *,
        sequence_param: str | None = None,
    ) -> RecordedEvent:
        recorded = await self._inner.record_event_with_delivery(
            call_sid, event, params, callback, sequence_param=sequence_param
        )
        self.written[(params.get("call_id", ""), params.get("event", ""))] = time.perf_counter()
        return recorded


class StampedReceiver(Receiver):
    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[tuple[str, str], float] = {}

    async def _handle(self, request: Request) -> Response:
        response = await super()._handle(request)
        form = self.requests[-1].form
        if self.requests[-1].path == "/notify":
            self.arrived[(form.get("call_id", ""), form.get("event", ""))] = time.perf_counter()
        return response


async def world(
    directory: Path, stack: contextlib.AsyncExitStack
) -> tuple[Stamped, TimedFetch, StampedStore, StampedReceiver]:
    receiver = StampedReceiver()
    receiver.documents["/control"] = (
        f"<Response><Forward><Target><Number>t@{TARGET[0]}:{TARGET[1]}</Number></Target>"
        "</Forward></Response>"
    )
    await receiver.start()
    stack.push_async_callback(receiver.stop)
    database = Database(url=f"sqlite+aiosqlite:///{directory / 'bench.db'}")
    await database.migrate()
    stack.push_async_callback(database.close)
    clock = SystemClock()
    plane = InProcessMediaPlane(host=SERVER[0], port_start=47400, port_end=47599)
    carrier = Trunk(
        name="carrier",
        uri="sip:127.0.96.2:5060",
        default=True,
        inbound_networks=(ip_network("127.0.96.0/24"),),
    )
    engine = Engine(
        settings=EngineSettings(host=SERVER[0], port=SERVER[1], trunks=(carrier,)),
        media=plane,
        tts=Tts(cache_dir=directory / "tts"),
    )
    await engine.start()
    stack.push_async_callback(engine.close)
    client = HttpClient(policy=LOOPBACK_ALLOWED, timeout=10.0)
    stack.push_async_callback(client.close)
    http = TimedFetch(client)
    dispatcher = WebhookDispatcher(database=database, client=client, clock=clock, node_id="bench")
    repository = CallRepository(database=database, clock=clock, listener=dispatcher)
    dispatcher.start()
    stack.push_async_callback(dispatcher.close)
    store = StampedStore(repository)
    control = CallControl(
        engine=engine,
        is_extension=engine.router.is_extension,
        domain="callbridge",
        store=store,
        clock=clock,
        http=http,  # type: ignore[arg-type]
    )
    calls = CallbridgeCalls(
        engine=engine,
        repository=repository,
        clock=clock,
        http=http,  # type: ignore[arg-type]
        audio=None,  # type: ignore[arg-type]  (no <Play> here)
        limiter=Unlimited(),
        settings=CallServiceSettings(
            node="bench",
            public_url="http://127.0.0.1:8080",
            recordings_dir=directory / "recordings",
            translate=parse_voice_xml,
        ),
        control=control,
    )
    stack.push_async_callback(calls.close)
    number = InboundNumber(
        number=NUMBER,
        control=NumberControl(
            number=NUMBER,
            control=authorized_url(receiver.url("/control")),
            notify=authorized_url(receiver.url("/notify")),
        ),
    )
    handler = Stamped(
        InboundCallHandler(
            numbers=NumberPlan((number,)),
            sessions=calls,
            extensions=ExtensionDialer(engine=engine),
            directory=engine.router,
        )
    )
    engine.set_incoming_handler(handler)
    return handler, http, store, receiver


def figures(name: str, values: list[float]) -> str:
    if not values:
        return f"  {name}: none"
    return (
        f"  {name}: p50 {statistics.median(values):.1f} ms,"
        f" p99 {percentile(values, 0.99):.1f} ms ({len(values)})"
    )


async def bench(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory() as tmp:
        async with contextlib.AsyncExitStack() as stack:
            handler, http, store, receiver = await world(Path(tmp), stack)
            target = Target()
            caller = Caller()
            t_transport, _ = await loop.create_datagram_endpoint(lambda: target, local_addr=TARGET)
            c_transport, _ = await loop.create_datagram_endpoint(lambda: caller, local_addr=CALLER)
            stack.callback(t_transport.close)
            stack.callback(c_transport.close)
            total = int(args.rate * args.seconds)
            started = time.perf_counter()
            for n in range(total):
                await asyncio.sleep(max(0.0, started + n / args.rate - time.perf_counter()))
                caller.invite(n)
            for _ in range(300):  # every call ended and notified, or 30 s
                hung_up = sum(1 for (_, event) in receiver.arrived if event == "HungUp")
                if len(caller.finals) >= total and hung_up >= total:
                    break
                await asyncio.sleep(0.1)
            measured, net = [], []
            for user, arrived in handler.arrived.items():
                reached = target.received.get(user)
                if reached is None:
                    continue
                measured.append((reached - arrived) * 1000)
                net.append((reached - arrived - http.fetch_seconds.get(user, 0.0)) * 1000)
            control = [s * 1000 for s in http.fetch_seconds.values()]
            notify = [
                (receiver.arrived[key] - written) * 1000
                for key, written in store.written.items()
                if key in receiver.arrived
            ]
            print(f"call control at {args.rate:g} calls/s for {args.seconds:g} s: {total} calls,")
            print(f"  {len(measured)} reached the target, {len(caller.finals)} got a final answer")
            print(figures("caller INVITE -> target INVITE", measured))
            print(figures("the same minus the control request", net))
            print(figures("the control request itself", control))
            print(figures("notify post: event written -> received", notify))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()

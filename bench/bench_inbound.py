"""Inbound calls with a voice application, on loopback, measured two ways side by side:
``inprocess`` (the engine and the call service on SQLite in this process) and ``serve``
(the real server, ``callbridge serve`` as a child process: uvloop, the HTTP worker, UDP,
SQLite); the application is a real HTTP server in this process either way.  ``--where``
picks one (default: both).

``--mode dial`` (default): a raw UDP caller at a trunk address sends ``--rate`` INVITEs a
second for ``--seconds`` to a number whose application answers
``<Dial><Sip>target</Sip></Dial>``; a raw UDP target answers each B-leg INVITE 486.  It
prints, per call, the time from the engine handing the caller's INVITE to the inbound
handler (after parsing and the leg's SDP answer) to the target receiving its INVITE, p50
and p99, as measured and with the document fetch's own time (the application's response,
HTTP round trip included) subtracted.  For both ways it prints the time on the wire, the
caller sending its INVITE → the target receiving its INVITE, as measured and minus the
application's own time (its request in → its response out, measured in the application):
the only figure that can be taken from outside the real server.  The real server sheds
load (503 while its event loop runs 200 ms late) and the in-process world does not:
``--no-shedding`` turns it off in the server, to compare like with like.  The callers are
the trunk's (``inbound_addresses``), which the per-source limit (``[sip] pike_requests``)
does not count.

``--mode rate``: SIPp's stock ``uac`` calls a number whose application answers
``<Pause length="1"/>`` (SIPp hangs up after ``--hold-ms``), at each of ``--rates`` for
``--seconds``; prints attempted, successful and failed calls per rate, each way, and how
long the server took to hold no live call nor leg after each rate.  The figure is the
highest rate with zero failed calls.

    unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/bench_inbound.py \
        --mode dial [--rate 100] [--seconds 10] [--where both|inprocess|serve]'
    unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/bench_inbound.py \
        --mode rate [--rates 100,200,300] [--seconds 5] [--where both|inprocess|serve]'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from starlette.requests import Request
from starlette.responses import Response

from callbridge.calls.destination_policy import DestinationPolicy, KeyRules
from callbridge.calls.extensions import ExtensionDialer
from callbridge.calls.inbound.handler import InboundCallHandler
from callbridge.calls.inbound.numbers import InboundNumber, NumberPlan
from callbridge.calls.key_secrets import StoredSigningSecrets
from callbridge.calls.service import CallbridgeCalls, CallServiceSettings
from callbridge.dialects.voicexml import parse_voice_xml
from callbridge.engine.engine import Engine, EngineSettings, IncomingCall
from callbridge.engine.routing import Trunk
from callbridge.httpclient.client import HttpClient
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from callbridge.store.api_keys import ApiKeyRepository
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.repository import CallRepository
from peers.net import free_tcp_port
from server_process import OVERLOAD_LAG_MS, Server, write_config
from webhook_receiver import LOOPBACK_ALLOWED, Receiver

SERVER = ("127.0.0.1", 5095)
SERVE_SIP_PORT = 5093  # the real server's (in-process: SERVER's)
SERVE_KEY = "bench-inbound-key-0123456789abcdef"
METRICS_KEY = "bench-inbound-metrics-0123456789abcdef"
CALLER = ("127.0.95.10", 5060)
TARGET = ("127.0.95.20", 5060)
NUMBER = "+15550199"
SDP = (
    "v=0\r\no=c 1 1 IN IP4 127.0.95.10\r\ns=-\r\nc=IN IP4 127.0.95.10\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


class TimedApp(Receiver):
    """The application, noting its own time for each request (by the caller's From)."""

    def __init__(self) -> None:
        super().__init__()
        self.own_seconds: dict[str, float] = {}
        self.asked: dict[str, float] = {}  # when each caller's request came in
        self.answered: dict[str, float] = {}  # when its response left the handler

    async def _handle(self, request: Request) -> Response:
        started = time.perf_counter()
        response = await super()._handle(request)
        caller = self.requests[-1].form.get("From", "")
        self.asked[caller] = started
        self.answered[caller] = time.perf_counter()
        self.own_seconds[caller] = self.answered[caller] - started
        return response


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
            caller = (form or params or {}).get("From", "")
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

    def __init__(self, server: tuple[str, int] = SERVER) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.finals: dict[str, int] = {}
        self.sent: dict[str, float] = {}  # when each caller's INVITE left (by caller user)
        self.server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def invite(self, n: int) -> None:
        user = f"c{n}"
        server = self.server
        branch = f"z9hG4bK{n}x"
        message = (
            f"INVITE sip:{NUMBER}@{server[0]}:{server[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {CALLER[0]}:{CALLER[1]};branch={branch}\r\n"
            f"From: <sip:{user}@{CALLER[0]}>;tag=f{n}\r\n"
            f"To: <sip:{NUMBER}@{server[0]}>\r\nCall-ID: call-{n}@bench\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:{user}@{CALLER[0]}:{CALLER[1]}>\r\nMax-Forwards: 70\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(SDP)}\r\n\r\n{SDP}"
        )
        assert self.transport is not None
        self.sent[user] = time.perf_counter()
        self.transport.sendto(message.encode(), server)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        text = data.decode(errors="replace")
        if not text.startswith("SIP/2.0 "):
            return
        status = int(text.split(" ", 2)[1])
        if status < 200:
            return
        call_id = header(text, "call-id")
        self.finals[call_id] = status
        server = self.server
        ack = (
            f"ACK sip:{NUMBER}@{server[0]}:{server[1]} SIP/2.0\r\n"
            f"Via: {header(text, 'via')}\r\nFrom: {header(text, 'from')}\r\n"
            f"To: {header(text, 'to')}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\n"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        assert self.transport is not None
        self.transport.sendto(ack.encode(), addr)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def world(
    directory: Path, document: str, stack: contextlib.AsyncExitStack
) -> tuple[Engine, Stamped, TimedFetch, TimedApp]:
    receiver = TimedApp()
    receiver.documents["/app"] = document
    await receiver.start()
    stack.push_async_callback(receiver.stop)
    database = Database(url=f"sqlite+aiosqlite:///{directory / 'bench.db'}")
    await database.migrate()
    stack.push_async_callback(database.close)
    clock = SystemClock()
    plane = InProcessMediaPlane(host=SERVER[0], port_start=46000, port_end=47999)
    carrier = Trunk(
        name="carrier",
        uri="sip:127.0.95.2:5060",
        default=True,
        inbound_networks=(ip_network("127.0.90.0/24"), ip_network("127.0.95.0/24")),
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
    keys = ApiKeyRepository(database=database, clock=clock)
    key = (await keys.create(name="bench")).record
    calls = CallbridgeCalls(
        engine=engine,
        repository=CallRepository(database=database, clock=clock),
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
        policy=DestinationPolicy(keys={key.id: KeyRules(allow_sip_uris=True)}),
        secrets=StoredSigningSecrets(keys=keys),
    )
    stack.push_async_callback(calls.close)
    number = InboundNumber(
        number=NUMBER,
        voice_url=receiver.url("/app"),
        api_key_id=key.id,
        api_key_name=key.name,
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
    return engine, handler, http, receiver


@contextlib.asynccontextmanager
async def served(
    directory: Path, document: str, *, shedding: bool = True
) -> AsyncIterator[tuple[TimedApp, Server]]:
    """``callbridge serve`` on SERVE_SIP_PORT with the number, its application answering
    ``document``; stopped (and the application) on exit.  ``shedding=False`` turns its
    load shedding off (``overload_lag_ms = 0`` in ``[sip]`` and ``[calls]``)."""
    receiver = TimedApp()
    receiver.documents["/app"] = document
    await receiver.start()
    http_port = free_tcp_port()
    config = write_config(
        directory,
        sip_port=SERVE_SIP_PORT,
        http_port=http_port,
        rtp_ports=(46000, 47999),
        node="bench",
        api_key=SERVE_KEY,
        more=f"""
[[trunks]]
name = "carrier"
uri = "sip:127.0.95.2:5060"
default = true
inbound_addresses = ["127.0.90.0/24", "127.0.95.0/24"]
[[api_keys]]
key = "{METRICS_KEY}"
name = "metrics"
scopes = ["metrics"]
[[numbers]]
number = "{NUMBER}"
voice_url = "{receiver.url("/app")}"
api_key = "test"
""",
    )
    if not shedding:  # write_config sets it in both sections
        lag = f"overload_lag_ms = {OVERLOAD_LAG_MS}\n"
        config.write_text(config.read_text().replace(lag, "overload_lag_ms = 0\n"))
    server = Server(config, http_port, directory / "server.log")
    try:
        await server.start()
        yield receiver, server
    finally:
        await server.stop()
        await receiver.stop()


async def settled(server: Server, timeout: float = 120.0) -> None:
    """Until the server holds no live call nor leg (its /metrics), as the in-process run
    waits for the engine's legs: each rate starts on an idle server."""
    started = time.monotonic()
    deadline = started + timeout
    headers = {"apikey": METRICS_KEY}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
        while time.monotonic() < deadline:
            text = (await client.get("/metrics")).text
            live = [
                float(line.split()[-1])
                for line in text.splitlines()
                if line.startswith(("callbridge_calls_live ", "callbridge_legs_live "))
            ]
            if live and not any(live):
                print(f"  (serve: idle {time.monotonic() - started:.1f} s after the run)")
                return
            await asyncio.sleep(0.5)
    print(f"  (serve: still busy after {timeout:g} s)", file=sys.stderr)


@dataclass(frozen=True)
class DialFigures:
    """One way's dial bench: ms lists per call that reached the target."""

    total: int
    reached: int
    finals: int
    wire: list[float]  # caller's INVITE sent -> target's INVITE received
    wire_net: list[float]  # the same, minus the application's own time
    to_app: list[float]  # caller's INVITE sent -> the application's request in
    from_app: list[float]  # the application's response out -> target's INVITE received
    handler: list[float] | None = None  # in-process only: handler -> target INVITE
    handler_net: list[float] | None = None  # ... minus the whole document fetch
    fetch: list[float] | None = None  # in-process only: the document fetch


WARMUP = 5  # calls made, and forgotten, before the measured ones (cold paths, connections)


async def drive_dial(
    args: argparse.Namespace,
    server: tuple[str, int],
    stack: contextlib.AsyncExitStack,
    forget: Iterable[dict[str, float]] = (),
) -> tuple[Target, Caller]:
    """Send the calls to ``server`` and wait for every final answer (or 15 s); the warm-up
    calls' times are dropped from the target, the caller and each of ``forget``."""
    loop = asyncio.get_running_loop()
    target = Target()
    caller = Caller(server)
    t_transport, _ = await loop.create_datagram_endpoint(lambda: target, local_addr=TARGET)
    c_transport, _ = await loop.create_datagram_endpoint(lambda: caller, local_addr=CALLER)
    stack.callback(t_transport.close)
    stack.callback(c_transport.close)
    for n in range(WARMUP):
        caller.invite(1_000_000 + n)
        for _ in range(100):
            if len(caller.finals) > n:
                break
            await asyncio.sleep(0.05)
    for times in (target.received, caller.sent, *forget):
        times.clear()
    caller.finals.clear()
    total = int(args.rate * args.seconds)
    started = time.perf_counter()
    for n in range(total):
        await asyncio.sleep(max(0.0, started + n / args.rate - time.perf_counter()))
        caller.invite(n)
    for _ in range(150):
        if len(caller.finals) >= total:
            break
        await asyncio.sleep(0.1)
    return target, caller


def wire_figures(target: Target, caller: Caller, app: TimedApp) -> dict[str, list[float]]:
    """The wire times of every call that reached the target (ms), as DialFigures' fields."""
    times: dict[str, list[float]] = {"wire": [], "wire_net": [], "to_app": [], "from_app": []}
    for user, sent in caller.sent.items():
        reached = target.received.get(user)
        if reached is None or user not in app.asked:
            continue
        times["wire"].append((reached - sent) * 1000)
        times["wire_net"].append((reached - sent - app.own_seconds[user]) * 1000)
        times["to_app"].append((app.asked[user] - sent) * 1000)
        times["from_app"].append((reached - app.answered[user]) * 1000)
    return times


async def dial_inprocess(args: argparse.Namespace) -> DialFigures:
    with tempfile.TemporaryDirectory() as tmp:
        async with contextlib.AsyncExitStack() as stack:
            _, handler, http, app = await world(Path(tmp), DIAL_DOCUMENT, stack)
            forget = (handler.arrived, http.fetch_seconds, app.own_seconds, app.asked)
            target, caller = await drive_dial(args, SERVER, stack, forget)
            measured, net = [], []
            for user, arrived in handler.arrived.items():
                reached = target.received.get(user)
                if reached is None:
                    continue
                measured.append((reached - arrived) * 1000)
                net.append((reached - arrived - http.fetch_seconds.get(user, 0.0)) * 1000)
            wire = wire_figures(target, caller, app)
            return DialFigures(
                total=int(args.rate * args.seconds),
                reached=len(wire["wire"]),
                finals=len(caller.finals),
                **wire,
                handler=measured,
                handler_net=net,
                fetch=[s * 1000 for s in http.fetch_seconds.values()],
            )


async def dial_serve(args: argparse.Namespace) -> DialFigures:
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            served(Path(tmp), DIAL_DOCUMENT, shedding=args.shedding) as (app, _),
            contextlib.AsyncExitStack() as stack,
        ):
            server = ("127.0.0.1", SERVE_SIP_PORT)
            target, caller = await drive_dial(args, server, stack, (app.own_seconds, app.asked))
            wire = wire_figures(target, caller, app)
            finals = sorted(set(caller.finals.values()))
            print(f"  (serve: the callers' final answers: {finals})", file=sys.stderr)
            return DialFigures(
                total=int(args.rate * args.seconds),
                reached=len(wire["wire"]),
                finals=len(caller.finals),
                **wire,
            )


def p50_p99(values: list[float] | None) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):6.1f} / {percentile(values, 0.99):6.1f}"


async def bench_dial(args: argparse.Namespace) -> None:
    figures: dict[str, DialFigures] = {}
    if args.where in ("inprocess", "both"):
        figures["inprocess"] = await dial_inprocess(args)
    if args.where in ("serve", "both"):
        figures["serve"] = await dial_serve(args)
    total = int(args.rate * args.seconds)
    print(f"inbound dial at {args.rate:g} calls/s for {args.seconds:g} s: {total} calls")
    names = list(figures)
    print(f"{'ms, p50 / p99':48s}" + "".join(f"{name:>18s}" for name in names))
    rows: list[tuple[str, list[str]]] = [
        ("reached the target", [str(f.reached) for f in figures.values()]),
        ("got a final answer", [str(f.finals) for f in figures.values()]),
        ("caller INVITE sent -> target INVITE", [p50_p99(f.wire) for f in figures.values()]),
        ("  minus the application's own time", [p50_p99(f.wire_net) for f in figures.values()]),
        (
            "  caller INVITE -> application's request in",
            [p50_p99(f.to_app) for f in figures.values()],
        ),
        (
            "  application's response out -> target INVITE",
            [p50_p99(f.from_app) for f in figures.values()],
        ),
        ("handler -> target INVITE", [p50_p99(f.handler) for f in figures.values()]),
        ("  minus the whole document fetch", [p50_p99(f.handler_net) for f in figures.values()]),
        ("the document fetch itself", [p50_p99(f.fetch) for f in figures.values()]),
    ]
    for label, cells in rows:
        print(f"{label:48s}" + "".join(f"{cell:>18s}" for cell in cells))


PAUSE_DOCUMENT = '<Response><Pause length="1"/></Response>'
DIAL_DOCUMENT = f"<Response><Dial><Sip>sip:t@{TARGET[0]}:{TARGET[1]}</Sip></Dial></Response>"


async def rate_run(args: argparse.Namespace, rate: float, server: str, workdir: Path) -> str:
    from peers.sipp import SippRun

    run = SippRun(
        "uac",
        workdir=workdir / "sipp",
        host="127.0.90.51",
        target=server,
        calls=int(rate * args.seconds),
        rate=rate,
        service=NUMBER.lstrip("+"),
        pause_ms=args.hold_ms,
        trace_messages=False,
    )
    result = await run.run(timeout=args.seconds + 60)
    attempted = result.successful + result.failed
    return f"{attempted:5d} {result.successful:5d} {result.failed:5d}"


async def bench_rate(args: argparse.Namespace) -> None:
    rates = [float(r) for r in args.rates.split(",")]
    cells: dict[str, list[str]] = {}
    if args.where in ("inprocess", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            async with contextlib.AsyncExitStack() as stack:
                engine, _, _, _ = await world(Path(tmp), PAUSE_DOCUMENT, stack)
                cells["inprocess"] = []
                for rate in rates:
                    cells["inprocess"].append(
                        await rate_run(args, rate, f"{SERVER[0]}:{SERVER[1]}", Path(tmp))
                    )
                    for _ in range(300):
                        if not engine.legs:
                            break
                        await asyncio.sleep(0.1)
    if args.where in ("serve", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            async with served(Path(tmp), PAUSE_DOCUMENT, shedding=args.shedding) as (_, server):
                cells["serve"] = []
                for rate in rates:
                    address = f"127.0.0.1:{SERVE_SIP_PORT}"
                    cells["serve"].append(await rate_run(args, rate, address, Path(tmp)))
                    await settled(server)
    print(f"inbound setup rate, <Pause length=1/>, SIPp hangs up after {args.hold_ms} ms")
    print("calls attempted / successful / failed, per way")
    print("rate " + "".join(f"{name:>20s}" for name in cells))
    for index, rate in enumerate(rates):
        print(f"{rate:4g} " + "".join(f"{way[index]:>20s}" for way in cells.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("dial", "rate"), default="dial")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--rates", default="100,200,300")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--hold-ms", type=int, default=200)
    parser.add_argument("--where", choices=("inprocess", "serve", "both"), default="both")
    parser.add_argument(
        "--no-shedding",
        dest="shedding",
        action="store_false",
        help="serve: load shedding off (the in-process world has none)",
    )
    args = parser.parse_args()
    asyncio.run(bench_dial(args) if args.mode == "dial" else bench_rate(args))


if __name__ == "__main__":
    main()

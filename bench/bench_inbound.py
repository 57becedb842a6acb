"""Inbound calls with a voice application, on loopback, in one process (the engine, the
call service on SQLite, the application on a real HTTP server in this process).

``--mode dial`` (default): a raw UDP caller at a trunk address sends ``--rate`` INVITEs a
second for ``--seconds`` to a number whose application answers
``<Dial><Sip>target</Sip></Dial>``; a raw UDP target answers each B-leg INVITE 486.  It
prints, per call, the time from the engine handing the caller's INVITE to the inbound
handler (after parsing and the leg's SDP answer) to the target receiving its INVITE, p50
and p99, as measured and with the document fetch's own time (the application's response,
HTTP round trip included) subtracted.

``--mode rate``: SIPp's stock ``uac`` calls a number whose application answers
``<Pause length="1"/>`` (SIPp hangs up after ``--hold-ms``), at each of ``--rates`` for
``--seconds``; prints attempted, successful and failed calls per rate.  The figure is the
highest rate with zero failed calls.

    .venv/bin/python bench/bench_inbound.py --mode dial [--rate 100] [--seconds 10]
    .venv/bin/python bench/bench_inbound.py --mode rate [--rates 100,200,300] [--seconds 5]
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
from webhook_receiver import LOOPBACK_ALLOWED, Receiver

SERVER = ("127.0.0.1", 5095)
CALLER = ("127.0.95.10", 5060)
TARGET = ("127.0.95.20", 5060)
NUMBER = "+15550199"
SDP = (
    "v=0\r\no=c 1 1 IN IP4 127.0.95.10\r\ns=-\r\nc=IN IP4 127.0.95.10\r\nt=0 0\r\n"
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


async def world(
    directory: Path, document: str, stack: contextlib.AsyncExitStack
) -> tuple[Engine, Stamped, TimedFetch]:
    receiver = Receiver()
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
    return engine, handler, http


async def bench_dial(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory() as tmp:
        async with contextlib.AsyncExitStack() as stack:
            document = f"<Response><Dial><Sip>sip:t@{TARGET[0]}:{TARGET[1]}</Sip></Dial></Response>"
            _, handler, http = await world(Path(tmp), document, stack)
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
            for _ in range(150):  # every call answered, or 15 s
                if len(caller.finals) >= total:
                    break
                await asyncio.sleep(0.1)
            measured, net = [], []
            for user, arrived in handler.arrived.items():
                reached = target.received.get(user)
                if reached is None:
                    continue
                measured.append((reached - arrived) * 1000)
                net.append((reached - arrived - http.fetch_seconds.get(user, 0.0)) * 1000)
            fetch = [s * 1000 for s in http.fetch_seconds.values()]
            print(f"inbound dial at {args.rate:g} calls/s for {args.seconds:g} s: {total} calls,")
            print(f"  {len(measured)} reached the target, {len(caller.finals)} got a final answer")
            if measured:
                print(
                    f"  INVITE -> target INVITE: p50 {statistics.median(measured):.1f} ms,"
                    f" p99 {percentile(measured, 0.99):.1f} ms"
                )
                print(
                    f"  minus the document fetch: p50 {statistics.median(net):.1f} ms,"
                    f" p99 {percentile(net, 0.99):.1f} ms"
                )
                print(
                    f"  the document fetch itself: p50 {statistics.median(fetch):.1f} ms,"
                    f" p99 {percentile(fetch, 0.99):.1f} ms"
                )


async def bench_rate(args: argparse.Namespace) -> None:
    from peers.sipp import SippRun

    with tempfile.TemporaryDirectory() as tmp:
        async with contextlib.AsyncExitStack() as stack:
            engine, _, _ = await world(Path(tmp), '<Response><Pause length="1"/></Response>', stack)
            print(f"inbound setup rate, <Pause length=1/>, SIPp hangs up after {args.hold_ms} ms")
            print("rate  attempted  successful  failed")
            for rate in (float(r) for r in args.rates.split(",")):
                run = SippRun(
                    "uac",
                    workdir=Path(tmp) / "sipp",
                    host="127.0.90.51",
                    target=f"{SERVER[0]}:{SERVER[1]}",
                    calls=int(rate * args.seconds),
                    rate=rate,
                    service=NUMBER.lstrip("+"),
                    pause_ms=args.hold_ms,
                    trace_messages=False,
                )
                result = await run.run(timeout=args.seconds + 60)
                attempted = result.successful + result.failed
                print(f"{rate:4g}  {attempted:9d}  {result.successful:10d}  {result.failed:6d}")
                for _ in range(300):
                    if not engine.legs:
                        break
                    await asyncio.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("dial", "rate"), default="dial")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--rates", default="100,200,300")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--hold-ms", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(bench_dial(args) if args.mode == "dial" else bench_rate(args))


if __name__ == "__main__":
    main()

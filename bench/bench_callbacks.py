"""Two-leg callbacks (seed-000, sequential mode): sustained rate and bridge latency.

The callback service (``CallbridgeCallbacks.place_callback``) runs in this process as
``tests/calls/conftest.py`` wires it: a real engine on 127.0.0.1:5096 with the in-process
media plane (RTP 50000-55999), SQLite in a temporary directory, a CallRepository and the
real WebhookDispatcher.  Status callbacks of both legs (``--events``) go to a receiver in a
helper process.  For each rate the bench places ``rate * seconds`` callbacks, paced
evenly: leg A is ``sip:a-N@127.0.10.71:5060`` and leg B ``sip:b-N@127.0.10.72:5060``, each
answered by a SIPp UAS (180, then 200 with PCMA only).  B plays
/usr/share/sip-tester/g711a.pcap (PCMA, 240-byte payloads every 30 ms) from its ACK and
sends BYE after ``--hold-ms``; the engine then hangs up A.  Per rate it prints callbacks
placed, bridged and failed (a callback whose outcome is not ``completed`` after a bridge or
whose legs are not both ``completed``), the CPU of this process (engine, database, webhook
dispatcher; % of one core from first placement until every leg has ended) and of the peers
(both SIPp processes and the helper), and the status callbacks received by then.

Bridge latency: A's 200 OK points its audio at a UDP sink (127.0.10.73:16000) in the
helper process, which stamps every packet in the kernel (SO_TIMESTAMPNS) and keeps those
whose payload is one of the pcap's (the ringback the engine plays to A while B rings is
160-byte frames, so it never matches), by the engine's source port (A's RTP endpoint).
The latency of a callback is from B's ``Answered`` event in the engine (the 200 OK is
processed; wall clock) to the first matching packet from A's endpoint after it: the
answer's storage, the bridge, B's pcap start after the ACK and up to one 30 ms frame.
The time to ``Engine.bridge`` is shown apart.  Loopback only; SIPp and the helper are
killed on exit.

    .venv/bin/python bench/bench_callbacks.py [--rates 10,20,40,80] [--seconds 10]
        [--hold-ms 2000] [--events "initiated ringing answered completed"]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import struct
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path

from callbridge.callflow.limits import RunnerLimits
from callbridge.calls.audio import HttpAudioLoader
from callbridge.calls.audio_cache import AudioCache
from callbridge.calls.callback_state import CallbackDetail
from callbridge.calls.callbacks_service import CallbackSettings, CallbridgeCallbacks
from callbridge.calls.destination_policy import DestinationPolicy
from callbridge.calls.live import LiveCalls
from callbridge.calls.request import CallbackRequest, LegSpec, StatusCallback
from callbridge.calls.session_factory import SessionFactory
from callbridge.dialects.voicexml import parse_voice_xml
from callbridge.engine.engine import Engine, EngineSettings
from callbridge.engine.events import Answered, Ended, LegEvent
from callbridge.engine.leg import CallLeg
from callbridge.engine.routing import Destination
from callbridge.engine.tasks import TaskOwner
from callbridge.httpclient.address_policy import AddressPolicy
from callbridge.httpclient.client import HttpClient
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.repository import CallRepository
from callbridge.webhooks.dispatcher import WebhookDispatcher
from callbridge.webhooks.params import CallbackEvent

SERVER = ("127.0.0.1", 5096)
PEER_A = ("127.0.10.71", 5060)
PEER_B = ("127.0.10.72", 5060)
SINK = ("127.0.10.73", 16000)
HOOKS = ("127.0.10.73", 18080)
RTP_PORTS = (50000, 55999)
PCAP = Path("/usr/share/sip-tester/g711a.pcap")
SO_TIMESTAMPNS = 35  # Linux; also the control message type (SCM_TIMESTAMPNS)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
NODE = "bench"
TERMINAL = ("completed", "failed", "canceled")

_INVITE_VARS = """  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="sip:[^>; ]*" search_in="hdr" header="Contact:" assign_to="contact"/>
      <ereg regexp="[^ ].*" search_in="hdr" header="From:" assign_to="caller"/>
      <ereg regexp="[^ ].*" search_in="hdr" header="To:" assign_to="callee"/>
    </action>
  </recv>
"""

_RINGING = """  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
"""

_OK_WITH_SDP = """  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP4 [local_ip]
      s=-
      c=IN IP4 {media_ip}
      t=0 0
      m=audio {media_port} RTP/AVP 8
      a=rtpmap:8 PCMA/8000
    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
"""

_ANSWER_BYE = """  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
"""

# A: answers with its audio pointed at the sink, waits for the engine's BYE.
UAS_A = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="callback leg A">
  <recv request="INVITE" crlf="true"/>
{_RINGING}{_OK_WITH_SDP.format(media_ip=SINK[0], media_port=SINK[1])}  <recv request="BYE"/>
{_ANSWER_BYE}</scenario>
"""

# B: answers, plays the pcap from its ACK, hangs up after the hold time.
UAS_B = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="callback leg B">
{_INVITE_VARS}{_RINGING}{_OK_WITH_SDP.format(media_ip="[media_ip]", media_port="[media_port]")}
  <nop><action><exec play_pcap_audio="{PCAP}"/></action></nop>
  <pause milliseconds="{{hold_ms}}"/>
  <send retrans="500">
    <![CDATA[
      BYE [$contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$callee];tag=[pid]SIPpTag01[call_number]
      To: [$caller]
      [last_Call-ID:]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"""

LOOPBACK_ALLOWED = AddressPolicy.from_entries(allow=("127.0.0.0/8",))  # its receivers


# --- the pcap ---


def pcap_payloads(path: Path) -> frozenset[bytes]:
    """The RTP payloads of a libpcap file of Ethernet/IPv4/UDP/RTP packets."""
    data = path.read_bytes()
    payloads: set[bytes] = set()
    offset = 24
    while offset + 16 <= len(data):
        size = struct.unpack_from("<I", data, offset + 8)[0]
        frame = data[offset + 16 : offset + 16 + size]
        offset += 16 + size
        ip_header = (frame[14] & 0x0F) * 4
        payloads.add(frame[14 + ip_header + 8 + 12 :])
    return frozenset(payloads)


# --- the helper process: RTP sink and status-callback receiver ---


@dataclass
class SinkState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    heard: dict[int, list[float]] = field(default_factory=dict)  # source port -> arrivals
    hooks: int = 0


def read_rtp(sock: socket.socket, payloads: frozenset[bytes], state: SinkState) -> None:
    """Keep the kernel arrival time of every packet whose payload is one of ``payloads``."""
    space = socket.CMSG_SPACE(16)
    while True:
        try:
            data, ancillary, _, addr = sock.recvmsg(2048, space)
        except OSError:
            return
        if data[12:] not in payloads:
            continue
        at = time.time()
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanos = struct.unpack("qq", value[:16])
                at = seconds + nanos / 1e9
        with state.lock:
            state.heard.setdefault(addr[1], []).append(at)


def hook_handler(state: SinkState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            with state.lock:
                state.hooks += 1

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def helper_main(conn: Connection, payloads: frozenset[bytes]) -> None:
    """Serve the sink and the receiver; answer ``collect`` with what came since last time."""
    state = SinkState()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(SINK)
    threading.Thread(target=read_rtp, args=(sock, payloads, state), daemon=True).start()
    server = ThreadingHTTPServer(HOOKS, hook_handler(state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send("ready")
    while conn.recv() == "collect":
        with state.lock:
            conn.send((state.heard, state.hooks))
            state.heard, state.hooks = {}, 0
    server.shutdown()
    sock.close()


# --- the engine, seen by the callback service ---


def bench_number(to: str) -> tuple[str, int]:
    """``sip:b-17@...`` -> ``("b", 17)``."""
    side, number = to.split(":", 1)[1].split("@", 1)[0].split("-")
    return side, int(number)


class TimedEngine:
    """The engine as the callback service's ``Originator``, noting for each callback A's
    RTP port, B's answer time, the bridge time and how many legs are still up."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._numbers: dict[str, int] = {}
        self.a_port: dict[int, int] = {}
        self.b_answered: dict[int, float] = {}
        self.bridged: dict[int, float] = {}
        self.a_legs = 0
        self.live = 0

    async def originate(
        self,
        to: str,
        *,
        caller_id: str = "callbridge",
        caller_name: str | None = None,
        ring_timeout: float | None = None,
        headers: dict[str, str] | None = None,
        trunk: str | None = None,
        contact: Destination | None = None,
    ) -> CallLeg:
        leg = await self._engine.originate(
            to,
            caller_id=caller_id,
            caller_name=caller_name,
            ring_timeout=ring_timeout,
            headers=headers,
            trunk=trunk,
            contact=contact,
        )
        side, number = bench_number(to)
        self._numbers[leg.id] = number
        self.live += 1
        if side == "a":
            self.a_legs += 1
            self.a_port[number] = leg.media.local_port
        leg.subscribe(lambda event: self._on_event(side, number, event))
        return leg

    def user_contacts(self, to: str) -> tuple[Destination, ...] | None:
        return self._engine.user_contacts(to)

    def _on_event(self, side: str, number: int, event: LegEvent) -> None:
        if isinstance(event, Answered) and side == "b":
            self.b_answered[number] = time.time()
        elif isinstance(event, Ended):
            self.live -= 1

    def bridge(self, a: CallLeg, b: CallLeg) -> None:
        self.bridged[self._numbers[a.id]] = time.time()
        self._engine.bridge(a, b)

    def unbridge(self, a: CallLeg) -> None:
        self._engine.unbridge(a)


class Unlimited:
    """Admission that admits every callback."""

    class _Permit:
        def release(self) -> None:
            pass

    def admit(self, api_key_id: str | None) -> _Permit:
        return self._Permit()


# --- SIPp ---


def process_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Peers:
    """The two SIPp UAS and the helper process; all stopped by :meth:`stop`."""

    def __init__(self, workdir: Path, hold_ms: int) -> None:
        self.workdir = workdir
        self.hold_ms = hold_ms
        self.sipp: list[asyncio.subprocess.Process] = []
        self.helper: multiprocessing.process.BaseProcess | None = None
        self.conn: Connection | None = None

    async def start(self, payloads: frozenset[bytes]) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.helper = context.Process(target=helper_main, args=(child, payloads), daemon=True)
        self.helper.start()
        if not await asyncio.to_thread(self.conn.poll, 30) or self.conn.recv() != "ready":
            raise RuntimeError("the sink/receiver helper did not start")
        await self._sipp("a", UAS_A, PEER_A, 16200)
        await self._sipp("b", UAS_B.replace("{hold_ms}", str(self.hold_ms)), PEER_B, 16300)
        await asyncio.sleep(0.5)
        for process in self.sipp:
            if process.returncode is not None:
                raise RuntimeError(f"SIPp exited at start; see {self.workdir}/*-errors.log")

    async def _sipp(self, name: str, scenario: str, at: tuple[str, int], media: int) -> None:
        path = self.workdir / f"uas_{name}.xml"
        path.write_text(scenario)
        process = await asyncio.create_subprocess_exec(
            *("sipp", "-sf", str(path), "-nostdin", "-cp", "0", "-i", at[0], "-p", str(at[1])),
            *("-mi", at[0], "-mp", str(media), "-l", "5000", "-trace_err"),
            *("-error_file", str(self.workdir / f"{name}-errors.log")),
            *("-max_recv_loops", "10000", "-max_sched_loops", "10000"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=self.workdir,
        )
        self.sipp.append(process)

    def cpu_seconds(self) -> float:
        pids = [p.pid for p in self.sipp]
        if self.helper is not None and self.helper.pid is not None:
            pids.append(self.helper.pid)
        return sum(process_cpu_seconds(pid) for pid in pids)

    async def collect(self) -> tuple[dict[int, list[float]], int]:
        assert self.conn is not None
        self.conn.send("collect")
        heard, hooks = await asyncio.to_thread(self.conn.recv)
        return heard, hooks

    def sipp_errors(self) -> int:
        logs = self.workdir.glob("*-errors.log")
        return sum(len(log.read_text(errors="replace").splitlines()) for log in logs)

    async def stop(self) -> None:
        for process in self.sipp:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            await process.wait()
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.send("stop")
        if self.helper is not None and self.helper.pid is not None:
            self.helper.join(5)
            if self.helper.is_alive():
                self.helper.kill()


# --- one rate ---


@dataclass
class RateResult:
    rate: int
    placed: int = 0
    bridged: int = 0
    failed: int = 0
    silent: int = 0  # bridged, yet A heard nothing of B
    server_cpu: float = 0.0
    peers_cpu: float = 0.0
    hooks: str = ""
    to_bridge_ms: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    after_bridge_ms: list[float] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass
class Bench:
    args: argparse.Namespace
    service: CallbridgeCallbacks
    engine: TimedEngine
    peers: Peers
    status_callback: StatusCallback | None
    next_number: int = 0

    def request(self, number: int) -> CallbackRequest:
        def leg(side: str, peer: tuple[str, int], from_: str) -> LegSpec:
            to = f"sip:{side}-{number}@{peer[0]}:{peer[1]}"
            return LegSpec(
                to=to, from_=from_, ring_timeout=10.0, status_callback=self.status_callback
            )

        return CallbackRequest(
            api_key_id=None,
            leg_a=leg("a", PEER_A, "15550100"),
            leg_b=leg("b", PEER_B, "15550101"),
        )

    async def place(self, rate: int, result: RateResult) -> dict[int, str]:
        """Place ``rate * seconds`` callbacks evenly; callback number -> id (or error)."""
        placed: dict[int, str] = {}

        async def one(number: int) -> None:
            try:
                placed[number] = (await self.service.place_callback(self.request(number))).id
            except Exception as error:
                result.reasons[f"not placed: {type(error).__name__}"] += 1

        start = time.monotonic()
        async with asyncio.TaskGroup() as group:
            for n in range(rate * self.args.seconds):
                await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
                self.next_number += 1
                group.create_task(one(self.next_number))
        result.placed = rate * self.args.seconds
        return placed

    async def settle(self, placed: int) -> None:
        """Until every placed callback has dialled A and every leg has ended."""
        deadline = time.monotonic() + self.args.hold_ms / 1000 + 40
        while time.monotonic() < deadline:
            if self.engine.a_legs >= placed and self.engine.live == 0:
                return
            await asyncio.sleep(0.05)

    async def measure(self, rate: int) -> RateResult:
        result = RateResult(rate=rate)
        cpu0, peers0, wall0 = time.process_time(), self.peers.cpu_seconds(), time.monotonic()
        legs_before = self.engine.a_legs
        ids = await self.place(rate, result)
        await self.settle(legs_before + len(ids))
        await asyncio.sleep(0.3)  # the legs' last events and the callback's outcome
        wall = time.monotonic() - wall0
        result.server_cpu = (time.process_time() - cpu0) / wall
        result.peers_cpu = (self.peers.cpu_seconds() - peers0) / wall
        await self.judge(ids, result)
        heard, hooks = await self.peers.collect()
        expected = 2 * len(self.args.events.split()) * len(ids) if self.status_callback else 0
        result.hooks = f"{hooks}/{expected}"
        self.latencies(ids, heard, result)
        result.failed += sum(n for r, n in result.reasons.items() if r.startswith("not placed"))
        return result

    async def judge(self, ids: dict[int, str], result: RateResult) -> None:
        for callback_id in ids.values():
            detail = await self.outcome(callback_id)
            result.bridged += detail.bridged_at is not None
            legs = (detail.leg_a.call.status, detail.leg_b.call.status)
            if detail.status != "completed" or legs != ("completed", "completed"):
                result.failed += 1
                result.reasons[f"{detail.status} {detail.ended_by}:{detail.reason} {legs}"] += 1

    async def outcome(self, callback_id: str) -> CallbackDetail:
        for _ in range(100):
            detail = await self.service.get_callback(callback_id, api_key_id=None)
            if detail.status in TERMINAL and detail.reason is not None:
                return detail
            await asyncio.sleep(0.1)
        return detail

    def latencies(self, ids: dict[int, str], heard: dict[int, list[float]], r: RateResult) -> None:
        for number in ids:
            answered = self.engine.b_answered.get(number)
            bridged = self.engine.bridged.get(number)
            if answered is None or bridged is None:
                continue
            r.to_bridge_ms.append((bridged - answered) * 1000)
            arrivals = sorted(heard.get(self.engine.a_port[number], []))
            first = bisect.bisect_left(arrivals, answered)
            if first == len(arrivals) or arrivals[first] > answered + 10:
                r.silent += 1
                continue
            r.latency_ms.append((arrivals[first] - answered) * 1000)
            r.after_bridge_ms.append((arrivals[first] - bridged) * 1000)


# --- report ---


def spread(values: list[float]) -> str:
    if not values:
        return "      -      -      -"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):7.1f}{p99:7.1f}{ordered[-1]:7.1f}"


def print_header(args: argparse.Namespace) -> None:
    print(
        f"Callbacks (sequential): A {PEER_A[0]}, B {PEER_B[0]} (SIPp UAS, PCMA), engine"
        f" {SERVER[0]}:{SERVER[1]}; B plays the pcap and hangs up after {args.hold_ms} ms;"
        f" {args.seconds} s per rate; status callbacks: {args.events or 'off'};"
        f" {os.cpu_count()} CPUs"
    )
    print(
        "  rate placed bridged failed silent server CPU peers CPU   hooks"
        "  answer->bridge ms      bridge->A hears B ms   answer->A hears B ms"
    )
    print(f"{'p50    p99    max':>85}{'p50    p99    max':>24}{'p50    p99    max':>24}")


def print_row(r: RateResult) -> None:
    print(
        f"{r.rate:6d} {r.placed:6d} {r.bridged:7d} {r.failed:6d} {r.silent:6d}"
        f" {100 * r.server_cpu:9.0f}% {100 * r.peers_cpu:8.0f}% {r.hooks:>9}"
        f"   {spread(r.to_bridge_ms)}   {spread(r.after_bridge_ms)}   {spread(r.latency_ms)}",
        flush=True,
    )
    for reason, count in r.reasons.most_common(5):
        print(f"         {count} x {reason}", flush=True)


# --- wiring ---


@contextlib.asynccontextmanager
async def callback_service(
    workdir: Path, engine: TimedEngine
) -> AsyncIterator[CallbridgeCallbacks]:
    database = Database(url=f"sqlite+aiosqlite:///{workdir / 'calls.db'}")
    await database.migrate()
    clock = SystemClock()
    async with HttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0) as client:
        dispatcher = WebhookDispatcher(
            database=database, client=client, clock=clock, node_id=NODE, poll_interval=0.2
        )
        repository = CallRepository(database=database, clock=clock, listener=dispatcher)
        audio = HttpAudioLoader(
            client=client,
            cache=AudioCache(directory=workdir / "audio", ttl=300.0, max_bytes=1 << 26),
        )
        live, tasks = LiveCalls(), TaskOwner(name="sessions")
        sessions = SessionFactory(  # as the call service builds its own
            engine=engine,
            repository=repository,
            clock=clock,
            http=client,
            audio=audio,
            translate=parse_voice_xml,
            runner_limits=RunnerLimits(),
            recordings_dir=workdir / "recordings",
            public_url="http://127.0.0.1:8080",
            node=NODE,
            policy=DestinationPolicy(),
            live=live,
            tasks=tasks,
        )
        service = CallbridgeCallbacks(
            engine=engine,
            repository=repository,
            clock=clock,
            audio=audio,
            limiter=Unlimited(),
            settings=CallbackSettings(node=NODE),
            sessions=sessions,
            live=live,
        )
        dispatcher.start()
        try:
            yield service
        finally:
            await service.close()
            await tasks.close()
            await live.close()
            await dispatcher.close()
            await database.close()


def make_engine(workdir: Path) -> Engine:
    plane = InProcessMediaPlane(host=SERVER[0], port_start=RTP_PORTS[0], port_end=RTP_PORTS[1])
    return Engine(
        settings=EngineSettings(host=SERVER[0], port=SERVER[1]),
        media=plane,
        tts=Tts(cache_dir=workdir / "tts"),
    )


def status_callback(events: str) -> StatusCallback | None:
    if not events:
        return None
    chosen = tuple(CallbackEvent(name) for name in events.split())
    return StatusCallback(url=f"http://{HOOKS[0]}:{HOOKS[1]}/status", events=chosen)


async def run_rates(bench: Bench) -> list[RateResult]:
    results = []
    print_header(bench.args)
    for rate in (int(r) for r in bench.args.rates.split(",")):
        result = await bench.measure(rate)
        results.append(result)
        print_row(result)
    return results


async def run(args: argparse.Namespace) -> int:
    if shutil.which("sipp") is None:
        raise SystemExit("sipp is not installed (apt-get install sip-tester)")
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    with tempfile.TemporaryDirectory(prefix="bench-callbacks-") as tmp:
        workdir = Path(tmp)
        peers = Peers(workdir, args.hold_ms)
        engine = make_engine(workdir)
        await engine.start()
        try:
            await peers.start(pcap_payloads(PCAP))
            timed = TimedEngine(engine)
            async with callback_service(workdir, timed) as service:
                bench = Bench(args, service, timed, peers, status_callback(args.events))
                results = await run_rates(bench)
            errors = peers.sipp_errors()
        finally:
            await peers.stop()
            await engine.close()
    summary(results, errors)
    return 0


def summary(results: list[RateResult], sipp_errors: int) -> None:
    best = 0
    for result in results:
        if result.failed:
            break
        best = result.rate
    print(f"highest rate with zero failed callbacks: {best} callbacks/s")
    latencies = [ms for r in results for ms in r.latency_ms]
    print(f"bridge latency over all rates, ms (p50 p99 max): {spread(latencies).strip()}")
    if sipp_errors:
        print(f"note: SIPp logged {sipp_errors} error lines (unexpected messages, retransmissions)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="10,20,40,80", help="callbacks/s, comma list")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each rate")
    parser.add_argument("--hold-ms", type=int, default=2000, help="bridged time before B's BYE")
    parser.add_argument(
        "--events",
        default="initiated ringing answered completed",
        help='status callback events of each leg ("" for none)',
    )
    args = parser.parse_args()
    raise SystemExit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()

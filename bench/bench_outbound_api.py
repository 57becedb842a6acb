"""Outbound call API: originate latency and status-callback delivery latency.

Runs the real server (``python -m callbridge.cli serve``) as a child process with a fresh
SQLite database, one API key and a default trunk pointing at a SIPp UAS sink
(``sipp -sn uas``, answering).  Places ``--rate`` calls per second for ``--duration``
seconds with ``POST /api/v2/calls`` (aiohttp); each call's voice application (served by a
receiver child process) is ``<Response><Hangup/></Response>``, so the server hangs up
as soon as the call is answered, and every call subscribes to
``initiated ringing answered completed`` at the same receiver.

Measured, all on one machine's wall clock (``time.time()``):

- originate latency: the INVITE arriving at SIPp (its ``-trace_msg`` log timestamps,
  correlated by a distinct ``to`` number per call) minus, in three readings of "the
  request accepted": the call's ``initiated`` event ``at`` (stamped once the request is
  authenticated, valid and admitted, just before the call is stored), the moment the
  201 answer was received, and the moment the request was sent (which adds the load
  generator's own delays);
- callback latency: the moment the receiver had read a status callback minus the event's
  ``at`` as ``GET /api/v2/calls/{sid}`` shows it, per event;
- failures (non-201 answers, calls not completed, callbacks missing) and the CPU load
  (the server's, its HTTP worker's, the machine's), and how often the server was
  preempted.

The peers (this load generator, SIPp and the receiver) stand for the customer's
application and the carrier, which in a deployment run on other machines.  Here they
share the server's two cores, and each of their wake-ups could preempt the server's
loop: 160-190 times a second at 100 calls/s.  So by default they run in Linux's
``SCHED_BATCH`` class, which does not preempt on wake-up (about 30-45 a second).  They
still take their CPU from the same two cores.  ``--peers-normal`` runs them as normal
processes.

Goals (the issue): originate p50 < 5 ms and p99 < 25 ms at 100 calls/s; callback p99
< 50 ms on loopback.

    .venv/bin/python bench/bench_outbound_api.py [--rate 100] [--duration 10]
        [--peers-normal] [--cprofile server.prof] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import httpx

API_KEY = "bench-outbound-api-key-0123456789"
SIPP_HOST = "127.0.90.61"  # bench addresses and ports: clear of the test suites'
SIPP_PORT = 5092
SIP_PORT = 5093
SERVER_HOST = "127.0.0.1"
NUMBER_BASE = 15550000000
EVENTS = tuple(os.environ.get("BENCH_EVENTS", "initiated ringing answered completed").split())
# The server's [log] section (e.g. 'format = "json"'); unset: the defaults.
LOG_SECTION = os.environ.get("BENCH_LOG", "")
HANGUP_DOCUMENT = b'<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>'
REPO = Path(__file__).resolve().parent.parent
# The server under cProfile (``--cprofile``): uvicorn re-raises SIGTERM once it has shut
# down, so SIGTERM must end in SystemExit for the stats to be written.
PROFILED_SERVER = """
import cProfile, signal, sys
from callbridge.cli import main
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
profile = cProfile.Profile()
try:
    profile.runcall(main, sys.argv[2:])
except SystemExit:
    pass
finally:
    profile.dump_stats(sys.argv[1])
"""


# --- the receiver: voice-application documents and status callbacks (a child process) ---


class ReceiverProtocol(asyncio.Protocol):
    """A minimal HTTP/1.1 server (keep-alive, Content-Length bodies): ``/app`` answers the
    hang-up document, ``/status`` records the callback with the time it was read,
    ``/dump`` answers every record as JSON."""

    records: list[tuple[str, str, str, float]] = []

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self._buffer) < end + 4 + length:
                return
            body = bytes(self._buffer[end + 4 : end + 4 + length])
            del self._buffer[: end + 4 + length]
            self._answer(head[0], body, time.time())

    def _answer(self, request_line: str, body: bytes, at: float) -> None:
        _, target, _ = request_line.split(" ", 2)
        path = urlsplit(target).path
        content_type = b"text/plain"
        payload = b"ok"
        if path == "/status":
            form = dict(parse_qsl(body.decode()))
            self.records.append((path, form.get("CallSid", ""), form.get("CallStatus", ""), at))
        elif path == "/app":
            form = dict(parse_qsl(body.decode() or urlsplit(target).query))
            self.records.append((path, form.get("CallSid", ""), "", at))
            content_type, payload = b"application/xml", HANGUP_DOCUMENT
        elif path == "/dump":
            content_type, payload = b"application/json", json.dumps(self.records).encode()
        assert self._transport is not None
        self._transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: "
            + content_type
            + b"\r\nContent-Length: "
            + str(len(payload)).encode()
            + b"\r\n\r\n"
            + payload
        )


async def serve_receiver(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(ReceiverProtocol, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


# --- child processes ---


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(workdir: Path, *, sip_port: int, http_port: int, rtp: tuple[int, int]) -> Path:
    path = workdir / "callbridge.toml"
    path.write_text(
        f"""
[sip]
listen = "{SERVER_HOST}:{sip_port}"
max_server_transactions = 20000
[http]
listen = "{SERVER_HOST}:{http_port}"
[media]
rtp_port_start = {rtp[0]}
rtp_port_end = {rtp[1]}
tts_cache_dir = "{workdir / "tts"}"
recordings_dir = "{workdir / "recordings"}"
[database]
url = "sqlite+aiosqlite:///{workdir / "callbridge.db"}"
[calls]
node = "bench"
audio_cache_dir = "{workdir / "audio"}"
webhook_timeout = 5.0
[http_client]
allow_networks = ["127.0.0.0/8"]
[[trunks]]
name = "sink"
uri = "sip:{SIPP_HOST}:{SIPP_PORT}"
default = true
[[api_keys]]
key = "{API_KEY}"
name = "bench"
"""
        + (f"[log]\n{LOG_SECTION}\n" if LOG_SECTION else "")
    )
    return path


class Children:
    """Every child process the bench started; all are stopped on exit."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(args, **kwargs)  # type: ignore[call-overload]
        self.processes.append(process)
        return process  # type: ignore[no-any-return]

    @staticmethod
    def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            self.stop(process)


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up:\n{log.read_text()[-3000:]}")


# --- CPU accounting ---


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds of each child of ``pid`` (the server's HTTP worker)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return {}
    found: dict[int, float] = {}
    for child in map(int, children):
        with contextlib.suppress(OSError):
            found[child] = process_cpu_seconds(child)
    return found


def preemptions(pid: int) -> int:
    """How often the process's main thread was preempted (involuntary context switches)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("nonvoluntary_ctxt_switches:"):
            return int(line.split()[1])
    return 0


def peer_command(args: argparse.Namespace, command: list[str]) -> list[str]:
    """``command`` run in the ``SCHED_BATCH`` class (unless ``--peers-normal``)."""
    return command if args.peers_normal else ["chrt", "--batch", "0", *command]


def become_batch_peer(args: argparse.Namespace) -> None:
    """This process (the load generator) in the ``SCHED_BATCH`` class, once the server
    (which must not inherit it) has started."""
    if not args.peers_normal:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def machine_cpu() -> tuple[int, int, int]:
    """(busy, stolen, total) jiffies of all CPUs; stolen: the time the hypervisor ran
    something else while this machine had work."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, values[7], sum(values)


@dataclass
class CpuWindow:
    server_pid: int
    started: float = 0.0
    server_cpu: float = 0.0
    children_cpu: dict[int, float] = field(default_factory=dict)
    machine: tuple[int, int, int] = (0, 0, 0)
    preempted: int = 0
    load_before: str = ""
    result: dict[str, str] = field(default_factory=dict)

    def begin(self) -> None:
        self.load_before = Path("/proc/loadavg").read_text().split()[0]
        self.started = time.monotonic()
        self.server_cpu = process_cpu_seconds(self.server_pid)
        self.children_cpu = children_cpu_seconds(self.server_pid)
        self.machine = machine_cpu()
        self.preempted = preemptions(self.server_pid)

    def end(self) -> None:
        elapsed = time.monotonic() - self.started
        server = process_cpu_seconds(self.server_pid) - self.server_cpu
        children = sum(
            seconds - self.children_cpu.get(pid, 0.0)
            for pid, seconds in children_cpu_seconds(self.server_pid).items()
        )
        preempted = preemptions(self.server_pid) - self.preempted
        busy, stolen, total = machine_cpu()
        total = max(1, total - self.machine[2])
        machine, steal = (busy - self.machine[0]) / total, (stolen - self.machine[1]) / total
        self.result = {
            "server process CPU": f"{100 * server / elapsed:.0f} % of one core",
            "its HTTP worker process CPU": f"{100 * children / elapsed:.0f} % of one core",
            "server preempted": f"{preempted / elapsed:.0f} times a second (involuntary switches)",
            "machine CPU busy": f"{100 * machine:.0f} % of {os.cpu_count()} cores",
            "of which stolen by the host": f"{100 * steal:.1f} %",
            "load average (1 min) before / after": (
                f"{self.load_before} / {Path('/proc/loadavg').read_text().split()[0]}"
            ),
        }


# --- the load ---


@dataclass
class Placed:
    number: str
    sent: float
    answered: float = math.nan
    status: int | None = None
    sid: str | None = None
    error: str | None = None


async def place(client: aiohttp.ClientSession, placed: Placed, receiver: str) -> None:
    form = {
        "to": placed.number,
        "from": "15550100",
        "url": f"{receiver}/app",
        "statusCallback": f"{receiver}/status",
        "statusCallbackEvent": " ".join(EVENTS),
    }
    try:
        async with client.post("/api/v2/calls", data=form) as response:
            body = await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        placed.error = f"{type(exc).__name__}: {exc}"
        return
    placed.answered = time.time()
    placed.status = response.status
    if response.status == 201:
        placed.sid = json.loads(body)["CallSid"]
    else:
        placed.error = f"{response.status} {body[:200].decode(errors='replace')}"


async def generate(
    api: str, receiver: str, rate: float, duration: float, *, first: int = NUMBER_BASE
) -> list[Placed]:
    """The load, through aiohttp: it took about half the CPU httpx took for the same
    requests, CPU that the server on the same two cores then lacked."""
    count = round(rate * duration)
    calls: list[Placed] = []
    tasks: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession(
        base_url=api,
        headers={"apikey": API_KEY},
        connector=aiohttp.TCPConnector(limit=200),
        timeout=aiohttp.ClientTimeout(total=30.0),
    ) as client:
        start = time.monotonic()
        for n in range(count):
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            placed = Placed(number=str(first + n), sent=time.time())
            calls.append(placed)
            tasks.append(asyncio.create_task(place(client, placed, receiver)))
        await asyncio.gather(*tasks)
    return calls


async def wait_settled(api: str, calls: list[Placed], receiver: str, timeout: float) -> None:
    """Until every placed call has its completed callback (or ``timeout``)."""
    wanted = {c.sid for c in calls if c.sid}
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            records = (await client.get(f"{receiver}/dump")).json()
            done = {sid for path, sid, status, _ in records if status == "completed"}
            if wanted <= done:
                return
            await asyncio.sleep(0.5)


async def call_details(api: str, sids: Iterable[str]) -> dict[str, dict[str, object]]:
    details: dict[str, dict[str, object]] = {}
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=api, headers={"apikey": API_KEY}) as client:

        async def one(sid: str) -> None:
            async with gate:
                response = await client.get(f"/api/v2/calls/{sid}")
                response.raise_for_status()
                details[sid] = response.json()

        await asyncio.gather(*(one(sid) for sid in sids))
    return details


# --- SIPp's message log ---

_ENTRY = re.compile(
    r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n(?:UDP|TCP) message received[^\n]*\n\s*"
    r"INVITE sip:(\d+)@",
    re.MULTILINE,
)


def invite_arrivals(log: Path) -> dict[str, float]:
    """The first arrival (wall clock) of each dialled number's INVITE."""
    arrivals: dict[str, float] = {}
    for match in _ENTRY.finditer(log.read_text(errors="replace")):
        at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        arrivals.setdefault(match.group(2), at)
    return arrivals


# --- figures ---


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def row(name: str, values_s: list[float], goal: str = "") -> str:
    if not values_s:
        return f"  {name:<34} {'(no samples)':>9}"
    ms = [v * 1000 for v in values_s]
    cells = [percentile(ms, 50), percentile(ms, 90), percentile(ms, 99), max(ms)]
    text = "".join(f"{c:9.1f}" for c in cells)
    return f"  {name:<34}{len(ms):>6}{text}   {goal}"


def header(title: str) -> str:
    columns = "".join(f"{c:>9}" for c in ("p50 ms", "p90 ms", "p99 ms", "max ms"))
    return f"{title}\n  {'':<34}{'n':>6}{columns}"


def verdict(value: float, goal_ms: float) -> str:
    return f"goal < {goal_ms:g} ms: {'met' if value * 1000 < goal_ms else 'MISSED'}"


def initiated_at(detail: dict[str, object] | None) -> float | None:
    """When the server accepted the call: its initiated event's ``at``."""
    events = detail.get("events") if detail else None
    for event in events if isinstance(events, list) else []:
        if event["name"] == "initiated":
            return datetime.fromisoformat(event["at"]).timestamp()
    return None


def originate_goals(values: list[float]) -> str:
    if not values:
        return ""
    return f"{verdict(percentile(values, 50), 5)}; {verdict(percentile(values, 99), 25)}".replace(
        "goal", "p50 goal", 1
    ).replace("goal < 25", "p99 goal < 25", 1)


def report(
    args: argparse.Namespace,
    calls: list[Placed],
    arrivals: dict[str, float],
    details: dict[str, dict[str, object]],
    records: list[tuple[str, str, str, float]],
    cpu: dict[str, str],
    elapsed: float,
) -> None:
    created = [c for c in calls if c.sid]
    from_answer = [arrivals[c.number] - c.answered for c in created if c.number in arrivals]
    from_send = [arrivals[c.number] - c.sent for c in created if c.number in arrivals]
    api_time = [c.answered - c.sent for c in created]

    received: dict[tuple[str, str], float] = {}
    documents: dict[str, float] = {}
    for path, sid, status, at in records:
        if path == "/status":
            received.setdefault((sid, status), at)
        elif path == "/app":
            documents.setdefault(sid, at)
    callback: dict[str, list[float]] = defaultdict(list)
    missing: dict[str, int] = defaultdict(int)
    statuses: dict[str, int] = defaultdict(int)
    for sid, detail in details.items():
        statuses[str(detail["status"])] += 1
        events = detail["events"]
        assert isinstance(events, list)
        for event in events:
            name = event["name"]
            if name not in EVENTS:
                continue
            at = datetime.fromisoformat(event["at"]).timestamp()
            got = received.get((sid, name))
            if got is None:
                missing[name] += 1
            else:
                callback[name].append(got - at)
    every_callback = [v for values in callback.values() for v in values]
    from_accept = [
        arrivals[c.number] - accepted
        for c in created
        if c.number in arrivals and (accepted := initiated_at(details.get(str(c.sid)))) is not None
    ]

    print()
    print(
        f"Outbound call API at {args.rate:g} calls/s for {args.duration:g} s: "
        f"{len(calls)} requests in {elapsed:.1f} s, SIPp UAS sink at {SIPP_HOST}:{SIPP_PORT}"
    )
    print(f"Peers (load, SIPp, receiver) in the {'normal' if args.peers_normal else 'batch'} class")
    print()
    print(header("Originate latency (INVITE at the SIPp sink, by its -trace_msg timestamp)"))
    print(row("from the call's acceptance", from_accept, originate_goals(from_accept)))
    print(row("from the 201 answer received", from_answer, originate_goals(from_answer)))
    print(row("from the request sent", from_send, originate_goals(from_send)))
    print(row("API request (sent → 201 received)", api_time))
    print()
    print(header("Status callback latency (event `at` → request read by the receiver)"))
    for name in EVENTS:
        print(row(name, callback.get(name, [])))
    goal = verdict(percentile(every_callback, 99), 50) if every_callback else ""
    print(row("all events", every_callback, goal.replace("goal", "p99 goal", 1)))
    print()
    print("Failures")
    non_201 = [c for c in calls if c.status != 201]
    print(f"  requests not answered 201:           {len(non_201)}")
    for c in non_201[:5]:
        print(f"    {c.number}: {c.error}")
    print(f"  201 calls whose INVITE SIPp logged:  {len(from_answer)} of {len(created)}")
    print(f"  final statuses:                      {dict(statuses)}")
    not_completed = sum(n for s, n in statuses.items() if s != "completed")
    print(f"  calls not completed:                 {not_completed}")
    print(f"  callbacks missing (event stored):    {dict(missing) or 0}")
    print(f"  application documents fetched:       {len(documents)}")
    print()
    print("Load during the run")
    for name, value in cpu.items():
        print(f"  {name + ':':<38}{value}")


# --- main ---


async def bench(args: argparse.Namespace, workdir: Path, children: Children) -> None:
    receiver_port, http_port = free_port(), free_port()
    sip_port = SIP_PORT
    receiver = f"http://127.0.0.1:{receiver_port}"
    api = f"http://{SERVER_HOST}:{http_port}"

    receiver_process = children.start(
        peer_command(args, [sys.executable, __file__, "--receiver", str(receiver_port)]),
        stdout=subprocess.PIPE,
    )
    assert receiver_process.stdout is not None
    if receiver_process.stdout.readline().strip() != b"ready":
        raise RuntimeError("the receiver did not start")

    sipp_log = workdir / "sipp-messages.log"
    sipp_out = (workdir / "sipp.out").open("wb")
    sipp = children.start(
        peer_command(
            args,
            [
                *("sipp", "-sn", "uas", "-i", SIPP_HOST, "-p", str(SIPP_PORT), "-nostdin"),
                *("-cp", "0", "-trace_msg", "-message_file", str(sipp_log)),
                *("-max_recv_loops", "10000"),
            ],
        ),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=sipp_out,
        stderr=subprocess.STDOUT,
    )

    config = write_config(
        workdir, sip_port=sip_port, http_port=http_port, rtp=(args.rtp_start, args.rtp_start + 999)
    )
    server_log = workdir / "server.log"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = ["-m", "callbridge.cli"]
    if args.cprofile:
        command = ["-c", PROFILED_SERVER, args.cprofile]
    with server_log.open("wb") as log:
        server = children.start(
            [sys.executable, *command, "serve", "--config", str(config)],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
        )
    await asyncio.to_thread(wait_ready, f"{api}/health", server, server_log)
    become_batch_peer(args)
    await asyncio.sleep(0.3)
    if sipp.poll() is not None:
        raise RuntimeError(f"sipp exited: {(workdir / 'sipp.out').read_text()[-2000:]}")

    # Warm up (imports, first connections, SQLite pages) with a few calls not measured.
    await generate(api, receiver, rate=10, duration=0.5, first=NUMBER_BASE - 1000)
    await asyncio.sleep(1.0)

    cpu = CpuWindow(server_pid=server.pid)
    cpu.begin()
    started = time.monotonic()
    calls = await generate(api, receiver, args.rate, args.duration)
    elapsed = time.monotonic() - started
    await wait_settled(api, calls, receiver, timeout=args.settle)
    cpu.end()

    details = await call_details(api, [c.sid for c in calls if c.sid])
    async with httpx.AsyncClient() as client:
        records = (await client.get(f"{receiver}/dump")).json()
    Children.stop(sipp)
    sipp_out.close()
    report(args, calls, invite_arrivals(sipp_log), details, records, cpu.result, elapsed)
    print(f"\nwork directory: {workdir}" if args.keep else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="calls per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds to wait for calls")
    parser.add_argument("--rtp-start", type=int, default=51000, help="first RTP port (1000)")
    parser.add_argument(
        "--cprofile",
        metavar="FILE",
        help="run the server under cProfile, its stats written to FILE when it stops",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--peers-normal",
        action="store_true",
        help="run the load generator, SIPp and the receiver in the normal scheduling class",
    )
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver is not None:
        asyncio.run(serve_receiver(args.receiver))
        return
    if shutil.which("sipp") is None:
        sys.exit("sipp is not installed")
    if args.cprofile:
        args.cprofile = str(Path(args.cprofile).resolve())
    workdir = Path(tempfile.mkdtemp(prefix="bench-outbound-"))
    children = Children()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        asyncio.run(bench(args, workdir, children))
    finally:
        children.stop_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

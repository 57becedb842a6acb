"""Memory per established call: the engine's RSS and Python heap with N calls up.

SIPp (`uac`) places ``--calls`` calls to the engine, which answers each one: an RTP session
on its own socket, SDP, a dialog.  With ``--media echo`` (default) the engine plays 20 ms
G.711 frames on every call and SIPp echoes them back (``-rtp_echo``), so RTP flows both ways
through each session; ``--media idle`` leaves the sessions silent.  Memory is sampled before
the calls (after a warm-up batch, so lazy imports and pools are not counted) and with all N
calls established: once shortly after the last ACK, when each call still holds its INVITE
server transaction (RFC 6026 Timer L, 64*T1), and once that timer has expired (``--steady``).

Two fresh processes measure: one reads VmRSS (/proc/self/status), the other runs under
tracemalloc (which inflates RSS) for the Python heap; both count GC-tracked objects.
RSS excludes kernel socket buffers.  Loopback only; SIPp is killed on exit.

    .venv/bin/python bench/bench_memory_per_call.py [--calls 200] [--rate 100]
        [--media echo|idle] [--no-steady]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing as mp
import os
import resource
import shutil
import signal
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from callbridge.engine.engine import Engine, EngineSettings, IncomingCall
from callbridge.engine.events import LegState
from callbridge.engine.indialog import DialogSession
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.sources import SilenceSource
from callbridge.media.tts import Tts

SERVER = ("127.0.0.1", 5094)
SIPP_HOST = "127.0.90.52"
SIPP_PORT = 5095
SIPP_MEDIA_PORT = 6100
RTP_PORTS = (50000, 55999)  # clear of the test suites' ranges


class Answer:
    """Answer; with media, play 20 ms frames until the call ends."""

    def __init__(self, media: bool) -> None:
        self.media = media

    async def handle(self, call: IncomingCall) -> None:
        await call.leg.answer()
        if self.media:
            await call.leg.play(SilenceSource(duration_s=24 * 3600))
        await call.leg.wait_ended()


@dataclass(frozen=True)
class Sample:
    label: str
    calls: int
    server_transactions: int
    rss: int  # bytes
    heap: int  # bytes traced by tracemalloc (0 when not tracing)
    objects: int  # GC-tracked objects
    rtp_in: int
    rtp_out: int
    top: tuple[str, ...] = ()  # biggest allocation sites since "before" (tracemalloc)


def vm_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def established(engine: Engine) -> int:
    """Answered legs whose caller has ACKed the 200."""
    count = 0
    for leg in list(engine.legs.values()):
        signalling = leg.signalling
        if (
            leg.state is LegState.ANSWERED
            and isinstance(signalling, DialogSession)
            and signalling.ack_received.is_set()
        ):
            count += 1
    return count


def sample(
    label: str, engine: Engine, calls: int, since: tracemalloc.Snapshot | None = None, top: int = 0
) -> Sample:
    gc.collect()
    legs = list(engine.legs.values())
    sites: tuple[str, ...] = ()
    if since is not None and top:
        stats = tracemalloc.take_snapshot().compare_to(since, "lineno")
        sites = tuple(
            f"{stat.size_diff / max(calls, 1):8.0f} B/call  {stat.traceback[0]}"
            for stat in stats[:top]
        )
    return Sample(
        label=label,
        calls=calls,
        server_transactions=engine._transactions.server_count,
        rss=vm_rss(),
        heap=tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0,
        objects=len(gc.get_objects()),
        rtp_in=sum(leg.media.packets_received for leg in legs),
        rtp_out=sum(leg.media.packets_sent for leg in legs),
        top=sites,
    )


async def start_sipp(
    workdir: Path, *, calls: int, rate: int, hold_ms: int, media: bool, tag: str
) -> asyncio.subprocess.Process:
    media_args = ["-rtp_echo", "-mi", SIPP_HOST, "-mp", str(SIPP_MEDIA_PORT)] if media else []
    return await asyncio.create_subprocess_exec(
        "sipp",
        "-sn",
        "uac",
        "-nostdin",
        "-cp",
        "0",
        "-i",
        SIPP_HOST,
        "-p",
        str(SIPP_PORT),
        *media_args,
        "-r",
        str(rate),
        "-m",
        str(calls),
        "-l",
        str(calls),
        "-d",
        str(hold_ms),
        "-timeout",
        "900s",
        "-max_recv_loops",
        "10000",
        "-trace_err",
        "-error_file",
        str(workdir / f"{tag}-errors.log"),
        f"{SERVER[0]}:{SERVER[1]}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=workdir,
    )


def kill(process: asyncio.subprocess.Process | None) -> None:
    if process is not None and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def measure(args: argparse.Namespace, trace_heap: bool) -> list[Sample]:
    if trace_heap:
        tracemalloc.start()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    samples: list[Sample] = []
    sipp: asyncio.subprocess.Process | None = None
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        workdir = Path(tmp)
        engine = Engine(
            settings=EngineSettings(host=SERVER[0], port=SERVER[1]),
            media=InProcessMediaPlane(
                host=SERVER[0], port_start=RTP_PORTS[0], port_end=RTP_PORTS[1]
            ),
            tts=Tts(cache_dir=workdir / "tts"),
        )
        engine.set_incoming_handler(Answer(args.media == "echo"))
        await engine.start()
        try:
            media = args.media == "echo"
            # Warm-up: lazy imports, codec tables, the first pooled RTP sockets.
            warm = await start_sipp(
                workdir, calls=20, rate=50, hold_ms=300, media=media, tag="warmup"
            )
            await warm.wait()
            await wait_for(lambda: not engine.legs, 30, "warm-up calls to end")
            await asyncio.sleep(0.5)
            samples.append(sample("before", engine, 0))
            before = tracemalloc.take_snapshot() if trace_heap and args.top else None
            sipp = await start_sipp(
                workdir,
                calls=args.calls,
                rate=args.rate,
                hold_ms=3_600_000,
                media=media,
                tag="calls",
            )
            budget = args.calls / args.rate + 60
            await wait_for(lambda: established(engine) >= args.calls, budget, "calls to establish")
            last_established = time.monotonic()
            await asyncio.sleep(1.0)
            calls = established(engine)
            samples.append(sample("established (+1 s)", engine, calls, before, args.top))
            if args.steady:
                linger = 64 * engine.timers.t1 + 1.0
                await asyncio.sleep(max(0.0, last_established + linger - time.monotonic()))
                label = f"steady (+{linger:.0f} s)"
                calls = established(engine)
                samples.append(sample(label, engine, calls, before, args.top))
        finally:
            kill(sipp)
            if sipp is not None:
                await sipp.wait()
            await engine.close()
    return samples


def _child(conn: Connection, args: argparse.Namespace, trace_heap: bool) -> None:
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind: finally kills SIPp
    try:
        conn.send(asyncio.run(measure(args, trace_heap)))
    except BaseException as exc:
        conn.send(RuntimeError(f"{type(exc).__name__}: {exc}"))


def run_child(args: argparse.Namespace, trace_heap: bool) -> list[Sample]:
    parent, child = mp.Pipe()
    process = mp.get_context("spawn").Process(target=_child, args=(child, args, trace_heap))
    process.start()
    try:
        result = parent.recv()
    finally:
        if process.is_alive():
            process.terminate()
        process.join()
    if isinstance(result, Exception):
        raise result
    samples: list[Sample] = result
    return samples


def report(args: argparse.Namespace, rss: list[Sample], heap: list[Sample]) -> None:
    media = "RTP both ways (engine plays, SIPp echoes)" if args.media == "echo" else "idle RTP"
    print(
        f"Memory per established call: {args.calls} inbound calls (SIPp uac -> engine), each with"
        f" an RTP session and dialog; media: {media}"
    )
    print(
        "  state                    calls  server tx   RSS MiB  RSS/call  heap/call"
        "  objects/call  RTP in/out pkts"
    )
    base_rss, base_heap = rss[0], heap[0]
    print(
        f"  {'before':22s} {0:7d} {rss[0].server_transactions:10d} {rss[0].rss / 2**20:9.1f}"
        f" {'':>9s} {'':>10s} {'':>13s}"
    )
    for r, h in zip(rss[1:], heap[1:], strict=True):
        n = max(r.calls, 1)
        per_rss = (r.rss - base_rss.rss) / n
        per_heap = (h.heap - base_heap.heap) / max(h.calls, 1)
        per_obj = (r.objects - base_rss.objects) / n
        print(
            f"  {r.label:22s} {r.calls:7d} {r.server_transactions:10d} {r.rss / 2**20:9.1f}"
            f" {per_rss / 1024:7.1f} KB {per_heap / 1024:7.1f} KB {per_obj:13.0f}"
            f"  {r.rtp_in}/{r.rtp_out}"
        )
    last_rss, last_heap = rss[-1], heap[-1]
    per_rss = (last_rss.rss - base_rss.rss) / max(last_rss.calls, 1)
    per_heap = (last_heap.heap - base_heap.heap) / max(last_heap.calls, 1)
    for h in heap[1:]:
        if h.top:
            print(f"  top allocation sites, {h.label}:")
            for line in h.top:
                print(f"    {line}")
    print(
        f"bytes per established call: {per_rss:.0f} RSS, {per_heap:.0f} Python heap"
        f" ({last_rss.label})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rate", type=int, default=100, help="calls/s while establishing")
    parser.add_argument("--media", choices=("echo", "idle"), default="echo")
    parser.add_argument(
        "--no-steady",
        dest="steady",
        action="store_false",
        help="skip the sample after Timer L (saves 33 s per process)",
    )
    parser.add_argument("--top", type=int, default=0, help="show N biggest allocation sites")
    args = parser.parse_args()
    if shutil.which("sipp") is None:
        raise SystemExit("sipp is not installed (apt-get install sip-tester)")
    print(f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)", flush=True)
    rss = run_child(args, trace_heap=False)
    heap = run_child(args, trace_heap=True)
    report(args, rss, heap)


if __name__ == "__main__":
    main()

"""Dead calls: what answered calls whose callers vanish (no RTP, no BYE) leave behind.

SIPp places ``--calls`` calls to the engine on 127.0.0.1:5094 at ``--rate``; the engine
answers each and leaves it up.  Once all are answered SIPp is killed: every caller is gone
without a BYE.  The same run is made three ways, side by side: no guard (``rtp_timeout``
0, no session timers: the engine before this change), ``[media] rtp_timeout``, and an
RFC 4028 session timer (RTP timeout off): the callers do not support timers, so the
engine refreshes at half the interval, gets no answer and ends the call.  For
each it prints, at the kill and ``--watch`` seconds later: legs up, RTP ports leased,
client transactions open (refreshes and BYEs to the vanished callers, until they time
out), open fds (the RTP sockets stay in the port pool, free for the next calls) and RSS.
Loopback only; SIPp is killed on exit.

    .venv/bin/python bench/bench_dead_calls.py [--calls 300] [--rate 100]
        [--rtp-timeout 5] [--session-expires 4] [--watch 45]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path

from callbridge.engine.engine import Engine, EngineSettings, IncomingCall
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from callbridge.sip.session_timer import SessionTimerPolicy

SERVER = ("127.0.0.1", 5094)
SIPP_HOST = "127.0.94.50"
SCENARIOS = Path(__file__).resolve().parents[1] / "tests" / "peers" / "scenarios"


class AnswerAndWait:
    def __init__(self, calls: int) -> None:
        self.calls = calls
        self.answered = 0
        self.all_answered = asyncio.Event()

    async def handle(self, call: IncomingCall) -> None:
        await call.leg.answer()
        self.answered += 1
        if self.answered >= self.calls:
            self.all_answered.set()
        await call.leg.wait_ended()


@dataclass(frozen=True)
class Sample:
    legs: int
    leased: int
    client_transactions: int
    fds: int
    rss_mb: float


def sample(engine: Engine, plane: InProcessMediaPlane) -> Sample:
    rss_kb = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    return Sample(
        legs=len(engine.legs),
        leased=plane.pool.leased,
        client_transactions=len(engine._transactions._clients),  # a peek, for the figure
        fds=len(os.listdir("/proc/self/fd")),
        rss_mb=rss_kb / 1024,
    )


async def one_mode(
    name: str, args: argparse.Namespace, workdir: Path, *, rtp_timeout: float, timers: int
) -> list[tuple[float, Sample]]:
    plane = InProcessMediaPlane(
        host=SERVER[0], port_start=52000, port_end=53999, rtp_timeout=rtp_timeout
    )
    policy = SessionTimerPolicy(session_expires=timers or 0, min_se=2)
    engine = Engine(
        settings=EngineSettings(host=SERVER[0], port=SERVER[1], session_timers=policy),
        media=plane,
        tts=Tts(cache_dir=workdir / "tts"),
    )
    handler = AnswerAndWait(args.calls)
    engine.set_incoming_handler(handler)
    await engine.start()
    argv = [
        *("sipp", "-sf", str(SCENARIOS / "uac_expect_bye.xml"), f"{SERVER[0]}:{SERVER[1]}"),
        *("-i", SIPP_HOST, "-p", "5060", "-s", "2000", "-m", str(args.calls)),
        *("-r", str(args.rate), "-nostdin"),
    ]
    log = (workdir / f"sipp-{name}.log").open("wb")
    sipp = await asyncio.create_subprocess_exec(*argv, stdout=log, stderr=log)
    samples: list[tuple[float, Sample]] = []
    try:
        async with asyncio.timeout(args.calls / args.rate + 20):
            await handler.all_answered.wait()
        await asyncio.sleep(0.5)  # the last ACKs
        sipp.kill()  # every caller vanishes, without a BYE
        await sipp.wait()
        loop = asyncio.get_running_loop()
        start = loop.time()
        for at in sorted({0.0, args.watch / 3, args.watch}):
            await asyncio.sleep(max(0.0, start + at - loop.time()))
            samples.append((at, sample(engine, plane)))
    finally:
        with contextlib.suppress(ProcessLookupError):
            sipp.kill()
        await sipp.wait()
        log.close()
        await engine.close()
    return samples


async def run(args: argparse.Namespace) -> int:
    if shutil.which("sipp") is None:
        raise SystemExit("sipp is not installed (apt-get install sip-tester)")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    modes = [
        ("no guard", 0.0, 0),
        (f"rtp_timeout {args.rtp_timeout:g} s", args.rtp_timeout, 0),
        (f"session timer {args.session_expires} s", 0.0, args.session_expires),
    ]
    print(f"{args.calls} answered calls at {args.rate}/s, then every caller vanishes (SIPp killed)")
    columns = ("after", "legs", "ports", "client tx", "fds", "RSS MB")
    print(f"{'mode':24} " + " ".join(f"{c:>6}" for c in columns))
    with tempfile.TemporaryDirectory(prefix="bench-dead-") as tmp:
        for name, rtp_timeout, timers in modes:
            samples = await one_mode(name, args, Path(tmp), rtp_timeout=rtp_timeout, timers=timers)
            for at, s in samples:
                print(
                    f"{name:24} {at:5.0f}s {s.legs:6d} {s.leased:6d} {s.client_transactions:9d}"
                    f" {s.fds:6d} {s.rss_mb:7.1f}",
                    flush=True,
                )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--rtp-timeout", type=float, default=5.0)
    parser.add_argument("--session-expires", type=int, default=4)
    parser.add_argument("--watch", type=float, default=45.0, help="seconds watched after")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    raise SystemExit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()

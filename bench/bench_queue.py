"""A queue under load, on loopback, in one process (the engine and the queue; the peers
are SIPp processes).

``--members`` SIPp UAS instances (each on its own 127.0.97.x address, registered as a
user by a SIPp REGISTER from that address first) answer after a uniform 1-5 s and hang
up after holding a uniform 5-20 s (``scenarios/queue_member.xml``).  A SIPp UAC sends
``--rate`` new callers a second for ``--seconds`` to the queue (roundrobin by default)
and waits for the server's BYE (after the member hung up, or on an overflow after
``--max-wait``).  Waiting callers hear the built-in music on hold and their position
every ``--announce`` seconds.

Prints: callers sent, SIPp's successful and failed calls, the queue's answered /
overflowed / abandoned counts and callers lost (sent but never left the queue), the
answered calls per member (min, max, spread), and the wait of answered callers p50/p99.
Bounded: arrivals stop after ``--seconds``, the run after the last caller could have
ended (``--seconds`` + ``--max-wait`` + 30 s).

    unshare -rn sh -c 'ip link set lo up && .venv/bin/python bench/bench_queue.py'
    ... bench/bench_queue.py --members 20 --rate 10 --seconds 60 --max-wait 20
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from callbridge.calls.hold_music import HoldMusic
from callbridge.calls.presence import Presence
from callbridge.calls.queues import QueueResult, Queues, QueueSettings, Strategy
from callbridge.engine.engine import Engine, EngineSettings, IncomingCall
from callbridge.engine.events import EndReason
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from peers.sipp import SippRun

SERVER = ("127.0.0.1", 5264)
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
CALLER_HOST = "127.0.97.200"


class QueueHandler:
    def __init__(self, queues: Queues) -> None:
        self.queues = queues
        self.results: list[QueueResult] = []
        self.joined = 0

    async def handle(self, call: IncomingCall) -> None:
        self.joined += 1
        result = await self.queues.wait_in(call.leg, "bench")
        self.results.append(result)
        if call.leg.ended is None:
            await call.leg.hangup(EndReason.HUNG_UP, detail="queue overflow")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run(args: argparse.Namespace) -> None:
    users = tuple((f"{2000 + n}", f"secret{2000 + n}") for n in range(args.members))
    work = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    if args.keep:
        print(f"files kept in {work}")
    try:
        engine = Engine(
            settings=EngineSettings(host=SERVER[0], port=SERVER[1], users=users),
            media=InProcessMediaPlane(host=SERVER[0], port_start=48000, port_end=48599),
            tts=Tts(cache_dir=work / "tts"),
        )
        await engine.start()
        presence = Presence(contacts=engine.registrar, extensions=[u for u, _ in users])
        engine.watch_legs(presence.watch)
        queues = Queues(
            queues=(
                QueueSettings(
                    id="bench",
                    members=tuple(u for u, _ in users),
                    strategy=Strategy(args.strategy),
                    member_timeout=8.0,
                    wrapup=args.wrapup,
                    max_wait=args.max_wait,
                    announce_position_every=args.announce,
                ),
            ),
            engine=engine,
            presence=presence,
            music=HoldMusic.built_in(),
        )
        handler = QueueHandler(queues)
        engine.set_incoming_handler(handler)
        target = f"{SERVER[0]}:{SERVER[1]}"
        members: list[SippRun] = []
        try:
            for n, (user, password) in enumerate(users):
                host = f"127.0.97.{n + 1}"
                register = SippRun(
                    SCENARIOS / "queue_member_register.xml",
                    workdir=work / "sipp",
                    host=host,
                    target=target,
                    service=user,
                    auth=(user, password),
                    trace_messages=args.keep,
                )
                assert (await register.run(timeout=10)).ok, f"{user} did not register"
                member = SippRun(
                    SCENARIOS / "queue_member.xml",
                    workdir=work / "sipp",
                    host=host,
                    calls=None,
                    trace_messages=args.keep,
                )
                await member.start()
                members.append(member)
            callers = int(args.rate * args.seconds)
            uac = SippRun(
                "uac_expect_bye",
                workdir=work / "sipp",
                host=CALLER_HOST,
                target=target,
                service="bench",
                calls=callers,
                rate=args.rate,
                trace_messages=args.keep,
                # -l: every caller at once if need be (SIPp's own limit held callers back)
                extra=["-l", str(callers), "-recv_timeout", str(int((args.max_wait + 40) * 1000))],
            )
            started = time.monotonic()
            budget = args.seconds + args.max_wait + 30
            try:
                result = await uac.run(timeout=budget)
            except TimeoutError:  # callers still in calls: stopped, and counted as lost
                print(f"SIPp callers still running after {budget:.0f} s: stopped")
                result = await uac.stop()
            took = time.monotonic() - started
            await asyncio.sleep(1.0)
            snapshot = queues.snapshot("bench")
            print(f"still waiting at the end: {len(snapshot.waiting)}; legs {len(engine.legs)}")
        finally:
            for member in members:
                await member.stop()
            await engine.close()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    answered = [r for r in handler.results if r.answered_by is not None]
    overflowed = [r for r in handler.results if r.overflowed]
    per_member = collections.Counter(r.answered_by for r in answered)
    counts = [per_member.get(u, 0) for u, _ in users]
    waits = [r.waited for r in answered]
    print(
        f"queue bench: {args.members} members ({args.strategy}, wrapup {args.wrapup:g} s), "
        f"{args.rate:g} callers/s for {args.seconds:g} s, max_wait {args.max_wait:g} s, "
        f"position every {args.announce:g} s; run took {took:.0f} s"
    )
    print(f"callers sent {callers}; SIPp successful {result.successful}, failed {result.failed}")
    print(
        f"joined {handler.joined}, left the queue {len(handler.results)}: answered "
        f"{len(answered)}, overflowed {len(overflowed)}, abandoned {snapshot.abandoned}; "
        f"lost {callers - len(handler.results)}"
    )
    if answered:
        print(
            f"answered per member: min {min(counts)}, max {max(counts)}, mean "
            f"{statistics.mean(counts):.2f}, stdev {statistics.pstdev(counts):.2f}; {counts}"
        )
        print(
            f"wait of answered callers: p50 {percentile(waits, 0.5):.2f} s, "
            f"p99 {percentile(waits, 0.99):.2f} s"
        )
    if overflowed:
        print(f"overflow after: p50 {percentile([r.waited for r in overflowed], 0.5):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-wait", type=float, default=20.0)
    parser.add_argument("--wrapup", type=float, default=0.0)
    parser.add_argument("--announce", type=float, default=30.0)
    parser.add_argument("--keep", action="store_true", help="keep SIPp's files")
    parser.add_argument("--strategy", default="roundrobin", choices=[s.value for s in Strategy])
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

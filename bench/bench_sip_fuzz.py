"""Mutated SIP messages against a real engine (issue 15): what comes of 3000 of them.

Valid INVITE (with SDP), REGISTER, OPTIONS and BYE messages are mutated with a fixed seed
(bytes flipped, cut short, headers duplicated or dropped, hostile Contact / Via / CSeq /
Content-Length / SDP values, huge values; see ``tests/sip_fuzz.py``, which the bounded
test ``tests/engine/test_sip_fuzz.py`` shares) and sent to an in-process engine over
loopback UDP at ``--rate`` per second, every ``--tcp-every``-th on a TCP connection of its
own.  The application refuses every call that gets through (486).  Printed: the requests
that could be answered (Via, From, To, Call-ID, CSeq readable) and how many were, the
statuses, the records logged and those with a traceback, open file descriptors of the
process before and after (RTP sockets the port pool keeps for reuse aside), and the server
transactions, legs and leased RTP ports left once the timers (T1 = 50 ms) have run.

    .venv/bin/python bench/bench_sip_fuzz.py [--messages 3000] [--seed 15] [--rate 400]
        [--tcp-every 6] [--uvloop]

To measure a tree from before the fix, put its ``src`` first: ``PYTHONPATH=<tree>/src``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from sip_fuzz import fuzz_engine, mutations, run_fuzz

ENGINE = ("127.0.42.1", 5082)
PEER = ("127.0.42.2", 5092)
RTP_PORTS = (44000, 44999)


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tts:
        engine = fuzz_engine(host=ENGINE[0], port=ENGINE[1], rtp=RTP_PORTS, tts_dir=Path(tts))
        await engine.start()
        messages = mutations(
            args.messages, seed=args.seed, peer=PEER[0], port=PEER[1], target=ENGINE[0]
        )
        started = time.monotonic()
        try:
            report = await run_fuzz(
                engine,
                messages,
                peer=PEER[0],
                peer_port=PEER[1],
                tcp_every=args.tcp_every,
                rate=args.rate,
            )
        finally:
            await engine.close()
        elapsed = time.monotonic() - started
    statuses = ", ".join(f"{s}: {n}" for s, n in sorted(report.statuses.items()))
    print(f"messages sent          {report.sent} ({report.sent_tcp} over TCP), {elapsed:.1f} s")
    print(f"answerable (UDP)       {report.expected}")
    print(f"final responses        {report.answered} of {report.expected}")
    print(f"statuses               {statuses}")
    print(f"unanswered             {len(report.missing)} {report.missing[:5]}")
    print(f"log records            {report.log_lines}, with traceback: {report.tracebacks}")
    print(
        f"open fds               before {report.fds_before}, after {report.fds_after} "
        f"(RTP sockets pooled for reuse: {report.rtp_sockets_pooled}; "
        f"leaked: {report.leaked_fds})"
    )
    print(
        f"left after the timers  {report.transactions_left} server transactions "
        f"({report.pending_left} unanswered), {report.legs_left} legs, "
        f"{report.rtp_ports_leased} RTP ports leased"
    )
    for text in report.first_tracebacks:
        print("--- first traceback ---\n" + text[-2000:])
    clean = (
        report.tracebacks == 0
        and not report.missing
        and report.leaked_fds <= 0
        and report.transactions_left == report.legs_left == report.rtp_ports_leased == 0
    )
    return 0 if clean else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--rate", type=float, default=400.0)
    parser.add_argument("--tcp-every", type=int, default=6)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop (production)")
    options = parser.parse_args()
    if options.uvloop:
        import uvloop

        sys.exit(uvloop.run(main(options)))
    sys.exit(asyncio.run(main(options)))

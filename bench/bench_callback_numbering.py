"""Cost of numbering status callbacks (SequenceNumber): one event with its delivery row,
written as the tracker writes it, with the call's callback counter bumped in the same
transaction (``numbered``) and without it (``plain``, as before issue 11), side by side
in one run, on a fresh SQLite file (and PostgreSQL with ``--postgres URL``).

Each round writes ``--events`` events over ``--calls`` calls, alternating the two kinds by
round so that load on the machine hits both alike.  Prints p50/p99 per write and the
writes per second of each.  No network but the database's.

    .venv/bin/python bench/bench_callback_numbering.py [--events 2000] [--calls 100] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.records import Callback, NewCall, NewEvent
from callbridge.store.repository import CallRepository

HOOK = Callback(url="http://127.0.0.1:9/hook")
PARAMS = {"CallSid": "x", "CallStatus": "ringing", "Timestamp": "Sat, 05 Dec 2026 14:30:01 +0000"}


async def write_round(
    calls: CallRepository, prefix: str, *, events: int, n_calls: int, numbered: bool
) -> list[float]:
    sids = [f"{prefix}-{i}" for i in range(n_calls)]
    for sid in sids:
        await calls.create_call(
            NewCall(sid=sid, direction="outbound", from_="1", to="2", node="bench")
        )
    clock = SystemClock()
    took: list[float] = []
    for n in range(events):
        sid = sids[n % n_calls]
        start = time.perf_counter()
        await calls.record_event_with_delivery(
            sid,
            NewEvent(name="ringing", at=clock.now()),
            PARAMS,
            HOOK,
            sequence_param="SequenceNumber" if numbered else None,
        )
        took.append(time.perf_counter() - start)
    return took


def summary(name: str, took: list[float]) -> str:
    ordered = sorted(took)
    p50 = statistics.median(ordered) * 1e6
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1e6
    rate = len(took) / sum(took)
    return f"  {name:9s} p50 {p50:7.1f} µs   p99 {p99:7.1f} µs   {rate:8.0f} writes/s"


async def run(url: str, *, events: int, n_calls: int, rounds: int) -> None:
    database = Database(url=url)
    await database.migrate()
    calls = CallRepository(database=database, clock=SystemClock())
    results: dict[str, list[float]] = {"plain": [], "numbered": []}
    try:
        for r in range(rounds):
            order = ("plain", "numbered") if r % 2 == 0 else ("numbered", "plain")
            for kind in order:
                results[kind] += await write_round(
                    calls,
                    f"{kind}-{r}",
                    events=events,
                    n_calls=n_calls,
                    numbered=kind == "numbered",
                )
    finally:
        await database.close()
    print(f"{database.dialect}: {rounds} rounds x {events} events over {n_calls} calls each")
    for kind, took in results.items():
        print(summary(kind, took))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--postgres", help="a PostgreSQL URL (postgresql+asyncpg://...)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
        asyncio.run(run(url, events=args.events, n_calls=args.calls, rounds=args.rounds))
    if args.postgres:
        asyncio.run(run(args.postgres, events=args.events, n_calls=args.calls, rounds=args.rounds))


if __name__ == "__main__":
    main()

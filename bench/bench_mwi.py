"""Message waiting: subscribing and the NOTIFY fan-out of a mailbox change.

An engine on 127.0.0.1:5301 (in this process, default transaction timers) serves
message-summary for ``--users`` users with counts held in memory.  ``--subscriptions``
subscribers (each its own UDP socket on 127.0.31.x, spread over the users, at most 8 a
user) each SUBSCRIBE (401, digest answer, 200 and the first NOTIFY, answered 200); then
every user's counts change at once (``mailbox_changed`` with all users) and the time until
every subscriber has its NOTIFY is measured; repeated ``--rounds`` times.  Prints the
subscribe rate (SUBSCRIBE sent → first NOTIFY received, all subscribers concurrently in
batches of 50), the fan-out time per round (p50 / max of per-subscriber delay) and the CPU
the process used (subscribers and engine share it: the figures bound the engine's
cost from above).  Loopback only, bounded by its arguments.

    .venv/bin/python bench/bench_mwi.py [--users 250] [--subscriptions 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "mwi")]

from mwi_subscriber import Subscriber  # noqa: E402

from callbridge.engine.engine import Engine, EngineSettings  # noqa: E402
from callbridge.engine.message_waiting import SubscriptionLimits  # noqa: E402
from callbridge.media.inprocess import InProcessMediaPlane  # noqa: E402
from callbridge.media.tts import Tts  # noqa: E402

HOST, PORT = "127.0.0.1", 5301
BATCH = 50


class Counts:
    def __init__(self) -> None:
        self.of: dict[str, tuple[int, int]] = {}

    async def counts(self, user: str) -> tuple[int, int]:
        return self.of.get(user, (0, 0))


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def main(users: int, subscriptions: int, rounds: int) -> None:
    names = [str(2000 + n) for n in range(users)]
    counts = Counts()
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(
            settings=EngineSettings(
                host=HOST,
                port=PORT,
                users=tuple((name, f"pw{name}") for name in names),
                subscriptions=SubscriptionLimits(max_subscriptions=subscriptions),
            ),
            media=InProcessMediaPlane(host=HOST, port_start=49100, port_end=49199),
            tts=Tts(cache_dir=Path(tmp)),
        )
        engine.message_waiting.serve(counts)
        await engine.start()
        phones = [
            Subscriber(
                f"127.0.31.{1 + n % 250}",
                (HOST, PORT),
                user=names[n % users],
                password=f"pw{names[n % users]}",
            )
            for n in range(subscriptions)
        ]
        try:
            for phone in phones:
                await phone.__aenter__()
            start, used = time.perf_counter(), cpu()
            for first in range(0, len(phones), BATCH):
                batch = phones[first : first + BATCH]
                answers = await asyncio.gather(*(p.subscribe(expires=600) for p in batch))
                assert all(a.status_code == 200 for a in answers), {a.status_code for a in answers}
                await asyncio.gather(*(p.notify(timeout=10) for p in batch))
            took, spent = time.perf_counter() - start, cpu() - used
            print(
                f"subscribe: {subscriptions} subscriptions of {users} users in {took:.2f} s "
                f"({subscriptions / took:.0f}/s), CPU {spent:.2f} s "
                f"({spent / subscriptions * 1e3:.2f} ms each, with the subscribers' side)"
            )
            for round_number in range(1, rounds + 1):
                for name in names:
                    counts.of[name] = (round_number, round_number)
                start, used = time.perf_counter(), cpu()
                engine.message_waiting.mailbox_changed(names)
                delays = await asyncio.gather(*(arrival(p, start) for p in phones))
                spent = cpu() - used
                print(
                    f"round {round_number}: {subscriptions} NOTIFYs, p50 "
                    f"{statistics.median(delays) * 1e3:.1f} ms, all in {max(delays) * 1e3:.1f} ms, "
                    f"CPU {spent:.2f} s"
                )
        finally:
            for phone in phones:
                await phone.__aexit__()
            await engine.close()


async def arrival(phone: Subscriber, start: float) -> float:
    await phone.notify(timeout=30)
    return time.perf_counter() - start


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=250)
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.users, args.subscriptions, args.rounds))

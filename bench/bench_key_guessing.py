"""Wrong API keys against the real server: how many are looked up, from one address, with
the throttle off (as before) and on, side by side in one run.

Starts ``python -m callbridge.cli serve`` twice on a fresh SQLite database (``[http]
auth_max_failures = 0``, then the default 10), and each time sends ``--guesses`` requests
with wrong keys from 127.0.0.1 (``--concurrency`` at once, httpx), then the right key
from 127.0.0.1 and from 127.0.0.2.  Prints the answers by status, the wall time, and what
each answer means: a 401 is a key that was looked up in the database, a 429 one that was
not.  Also prints the cost of the stored hash, HMAC-SHA256(pepper, SHA-256(key)),
against the plain SHA-256 stored before, per key.

    .venv/bin/python bench/bench_key_guessing.py [--guesses 2000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

KEY = "bench-right-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config(directory: Path, http_port: int, max_failures: int) -> Path:
    path = directory / f"callbridge-{max_failures}.toml"
    path.write_text(
        f"""
[sip]
listen = "127.0.0.1:{free_port()}"
[http]
listen = "127.0.0.1:{http_port}"
auth_max_failures = {max_failures}
[media]
rtp_port_start = 45000
rtp_port_end = 45019
tts_cache_dir = "{directory / "tts"}"
recordings_dir = "{directory / "recordings"}"
[database]
url = "sqlite+aiosqlite:///{directory / f"db-{max_failures}.db"}"
[calls]
audio_cache_dir = "{directory / "audio"}"
http_worker = false
[[api_keys]]
key = "{KEY}"
name = "bench"
"""
    )
    return path


async def run_once(directory: Path, max_failures: int, guesses: int, concurrency: int) -> None:
    http_port = free_port()
    path = config(directory, http_port, max_failures)
    with (directory / f"server-{max_failures}.log").open("wb") as log:
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "callbridge.cli", "serve", "--config", str(path),
            "--log-level", "WARNING", stdout=log, stderr=log,
        )  # fmt: skip
    url = f"http://127.0.0.1:{http_port}"
    try:
        async with httpx.AsyncClient(base_url=url) as probe:
            for _ in range(200):
                try:
                    if (await probe.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, limits=limits) as attacker:
            gate = asyncio.Semaphore(concurrency)

            async def guess(n: int) -> int:
                async with gate:
                    headers = {"apikey": f"wrong-{n:06d}-0123456789"}
                    return (await attacker.get("/api/v2/calls", headers=headers)).status_code

            started = time.perf_counter()
            codes = Counter(await asyncio.gather(*(guess(n) for n in range(guesses))))
            elapsed = time.perf_counter() - started
            same = (await attacker.get("/api/v2/calls", headers={"apikey": KEY})).status_code
        other_transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(base_url=url, transport=other_transport) as other:
            neighbour = (await other.get("/api/v2/calls", headers={"apikey": KEY})).status_code
    finally:
        server.terminate()
        await server.wait()
    label = "off (as before)" if max_failures == 0 else f"on, {max_failures} failures"
    print(f"throttle {label}: {guesses} wrong keys in {elapsed:.2f} s")
    print(f"  looked up (401): {codes.get(401, 0)}, refused unread (429): {codes.get(429, 0)}")
    print(f"  right key then: from the guessing address {same}, from 127.0.0.2 {neighbour}")


def hash_cost(rounds: int = 200_000) -> None:
    pepper = b"p" * 64
    started = time.perf_counter()
    for n in range(rounds):
        hashlib.sha256(f"key-{n}".encode()).hexdigest()
    plain = (time.perf_counter() - started) / rounds
    started = time.perf_counter()
    for n in range(rounds):
        inner = hashlib.sha256(f"key-{n}".encode()).hexdigest().encode()
        hmac.new(pepper, inner, hashlib.sha256).hexdigest()
    keyed = (time.perf_counter() - started) / rounds
    print(f"stored hash per key: SHA-256 {plain * 1e6:.2f} us, keyed {keyed * 1e6:.2f} us")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--guesses", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-keys-") as tmp:
        for max_failures in (0, 10):
            await run_once(Path(tmp), max_failures, args.guesses, args.concurrency)
    hash_cost()


if __name__ == "__main__":
    asyncio.run(main())

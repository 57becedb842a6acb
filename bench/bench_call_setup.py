"""Call setup rate: SIPp's stock `uac` calls the engine, which answers; SIPp hangs up.

Runs rising rates for a bounded number of calls each and prints, per rate, successful and
failed calls; the figure is the highest rate with zero failures.  Loopback only.

    .venv/bin/python bench/bench_call_setup.py [--rates 100,200,300,400,500] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import shutil
import tempfile
from pathlib import Path

from callbridge.engine.engine import Engine, EngineSettings, IncomingCall
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts

SERVER = ("127.0.0.1", 5090)
SIPP_HOST = "127.0.10.50"


class AnswerAndWait:
    async def handle(self, call: IncomingCall) -> None:
        await call.leg.answer()
        await call.leg.wait_ended()


async def run_sipp(rate: int, calls: int, workdir: Path) -> tuple[int, int, str]:
    process = await asyncio.create_subprocess_exec(
        "sipp",
        "-sn",
        "uac",
        "-nostdin",
        "-cp",
        "0",
        "-i",
        SIPP_HOST,
        "-p",
        "5091",
        "-r",
        str(rate),
        "-m",
        str(calls),
        "-l",
        str(rate * 4),
        "-d",
        "200",
        "-timeout",
        "60",
        "-timeout_error",
        "-max_recv_loops",
        "10000",
        "-trace_stat",
        "-stf",
        str(workdir / "stat.csv"),
        "-mt",
        "0",
        f"{SERVER[0]}:{SERVER[1]}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        cwd=workdir,
    )
    _, err = await process.communicate()
    stat = (workdir / "stat.csv").read_text().splitlines()
    header, last = stat[0].split(";"), stat[-1].split(";")
    row = dict(zip(header, last, strict=False))
    ok = int(row.get("SuccessfulCall(C)", 0))
    failed = int(row.get("FailedCall(C)", 0))
    return ok, failed, err.decode(errors="replace")[-300:]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="100,200,300,400,500,600")
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("sipp") is None:
        raise SystemExit("sipp is not installed (apt-get install sip-tester)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
    plane = InProcessMediaPlane(host=SERVER[0], port_start=40000, port_end=49999)
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(
            settings=EngineSettings(host=SERVER[0], port=SERVER[1], max_server_transactions=20000),
            media=plane,
            tts=Tts(cache_dir=Path(tmp) / "tts"),
        )
        engine.set_incoming_handler(AnswerAndWait())
        await engine.start()
        best = 0
        try:
            for rate in (int(r) for r in args.rates.split(",")):
                workdir = Path(tmp) / f"r{rate}"
                workdir.mkdir()
                ok, failed, err = await run_sipp(rate, rate * args.seconds, workdir)
                print(f"rate {rate:5d} calls/s: {ok:6d} ok, {failed:4d} failed")
                if failed:
                    print("  sipp:", re.sub(r"\s+", " ", err))
                    break
                best = rate
                while engine.legs:  # noqa: ASYNC110 (a bench drains, no event to wait on)
                    await asyncio.sleep(0.2)
        finally:
            await engine.close()
    print(f"highest rate with zero failed calls: {best} calls/s")


if __name__ == "__main__":
    asyncio.run(main())

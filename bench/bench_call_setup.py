"""Call setup rate: SIPp places calls at fixed rates, the engine answers, one side hangs up.

For each rate SIPp (`uac`) places ``rate * seconds`` calls to the engine on 127.0.0.1:5090;
the engine (default settings, so its overload limit is the production one) answers each with
an RTP endpoint and SDP.  ``--hangup caller`` (default) is SIPp's stock `uac` scenario, which
sends BYE after ``--hold-ms``; ``--hangup engine`` runs a `uac` scenario that waits for the
engine's BYE instead (the engine hangs up after ``--hold-ms``).  Per rate it prints calls
attempted, successful and failed, SIPp's retransmissions (a request or response overdue by
500 ms), the INVITE→200 time, and CPU: the engine's (this process), SIPp's, and what other
processes took meanwhile (the machine is shared; a busy neighbour makes figures worse).  The
figure is the highest rate with zero failed calls.  Loopback only; SIPp is killed on exit.

    .venv/bin/python bench/bench_call_setup.py [--rates 100,200,...] [--seconds 10]
        [--hold-ms 200] [--hangup caller|engine]
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
import time
from dataclasses import dataclass
from pathlib import Path

from callbridge.engine.engine import Engine, EngineSettings, IncomingCall
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts

SERVER = ("127.0.0.1", 5090)
SIPP_HOST = "127.0.90.50"
SIPP_PORT = 5091
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BUCKETS = (10, 20, 30, 40, 50, 100, 150, 200)

# SIPp's stock `uac`, except that the callee (the engine) sends the BYE.
CALLEE_HANGS_UP = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uac, callee hangs up">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Subject: Performance Test
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Content-Length: 0
    ]]>
  </send>
  <ResponseTimeRepartition value="10, 20, 30, 40, 50, 100, 150, 200"/>
  <CallLengthRepartition value="10, 50, 100, 500, 1000, 5000, 10000"/>
</scenario>
"""


class Answer:
    """Answer every call; with ``hold`` set, hang up after that long (else wait for BYE)."""

    def __init__(self, hold: float | None) -> None:
        self.hold = hold

    async def handle(self, call: IncomingCall) -> None:
        await call.leg.answer()
        if self.hold is None:
            await call.leg.wait_ended()
            return
        await asyncio.sleep(self.hold)
        await call.leg.hangup()


@dataclass(frozen=True)
class RateResult:
    rate: int
    achieved: float
    attempted: int
    successful: int
    failed: int
    retransmissions: int
    setup_mean_ms: float
    setup_p99_ms: str
    engine_cpu: float  # fraction of one core over the run
    sipp_cpu: float
    other_cpu: float  # other processes, fraction of one core
    load: float
    detail: str


def machine_busy_seconds() -> float:
    """CPU time spent by everything on the machine (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ticks = [int(x) for x in fields]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / CLOCK_TICKS


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _ms(value: str) -> float:
    """SIPp's "HH:MM:SS:microseconds" duration, in milliseconds."""
    hours, minutes, seconds, micros = (int(part) for part in value.split(":"))
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + micros / 1000


def _p99_bucket(row: dict[str, str]) -> str:
    """The smallest SIPp response-time bucket that holds 99 % of the calls."""
    counts = [int(row.get(f"ResponseTimeRepartition1_<{b}", 0) or 0) for b in BUCKETS]
    counts.append(int(row.get(f"ResponseTimeRepartition1_>={BUCKETS[-1]}", 0) or 0))
    total, running = sum(counts), 0
    for bound, count in zip(BUCKETS, counts, strict=False):
        running += count
        if total and running >= 0.99 * total:
            return f"<{bound}"
    return f">={BUCKETS[-1]}" if total else "-"


class SippRunner:
    """Runs SIPp processes and kills any still running on exit."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: set[asyncio.subprocess.Process] = set()

    async def run(
        self, *, rate: int, calls: int, hold_ms: int, scenario: Path | None, tag: str
    ) -> tuple[dict[str, str], str]:
        stat = self.workdir / f"{tag}.csv"
        scenario_args = ["-sf", str(scenario)] if scenario else ["-sn", "uac"]
        process = await asyncio.create_subprocess_exec(
            "sipp",
            *scenario_args,
            "-nostdin",
            "-cp",
            "0",
            "-i",
            SIPP_HOST,
            "-p",
            str(SIPP_PORT),
            "-r",
            str(rate),
            "-m",
            str(calls),
            "-l",
            str(max(rate * 4, 100)),
            "-d",
            str(hold_ms),
            "-timeout",
            f"{calls // max(rate, 1) + 60}s",
            "-timeout_error",
            "-max_recv_loops",
            "10000",
            "-max_sched_loops",
            "10000",
            "-trace_stat",
            "-stf",
            str(stat),
            "-fd",
            "1",
            "-trace_err",
            "-error_file",
            str(self.workdir / f"{tag}-errors.log"),
            f"{SERVER[0]}:{SERVER[1]}",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.workdir,
        )
        self.running.add(process)
        try:
            _, err = await process.communicate()
        finally:
            self.kill(process)
        lines = stat.read_text().splitlines() if stat.exists() else []
        if len(lines) < 2:
            return {}, err.decode(errors="replace").strip()[-400:]
        header, last = lines[0].split(";"), lines[-1].split(";")
        return dict(zip(header, last, strict=False)), err.decode(errors="replace").strip()[-400:]

    def kill(self, process: asyncio.subprocess.Process) -> None:
        self.running.discard(process)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()

    def kill_all(self) -> None:
        for process in list(self.running):
            self.kill(process)


async def measure_rate(
    engine: Engine, sipp: SippRunner, rate: int, args: argparse.Namespace, scenario: Path | None
) -> RateResult:
    load = os.getloadavg()[0]
    busy0, cpu0, child0 = machine_busy_seconds(), time.process_time(), children_cpu_seconds()
    wall0 = time.monotonic()
    row, err = await sipp.run(
        rate=rate,
        calls=rate * args.seconds,
        hold_ms=args.hold_ms,
        scenario=scenario,
        tag=f"rate{rate}",
    )
    wall = time.monotonic() - wall0
    engine_cpu = time.process_time() - cpu0
    sipp_cpu = children_cpu_seconds() - child0
    other = max(0.0, machine_busy_seconds() - busy0 - engine_cpu - sipp_cpu)

    def count(name: str) -> int:
        return int(row.get(name, 0) or 0)

    detail = "" if row else f"no statistics from SIPp: {err}"
    failures = {
        name.removeprefix("Failed").removesuffix("(C)"): count(name)
        for name in row
        if name.startswith("Failed") and name.endswith("(C)") and name != "FailedCall(C)"
    }
    if any(failures.values()):
        detail = ", ".join(f"{name} {n}" for name, n in failures.items() if n)
    return RateResult(
        rate=rate,
        achieved=float(row.get("CallRate(C)", 0) or 0),
        attempted=count("TotalCallCreated"),
        successful=count("SuccessfulCall(C)"),
        failed=count("FailedCall(C)") if row else rate * args.seconds,
        retransmissions=count("Retransmissions(C)"),
        setup_mean_ms=_ms(row["ResponseTime1(C)"]) if row.get("ResponseTime1(C)") else 0.0,
        setup_p99_ms=_p99_bucket(row),
        engine_cpu=engine_cpu / wall,
        sipp_cpu=sipp_cpu / wall,
        other_cpu=other / wall,
        load=load,
        detail=detail,
    )


async def drain(engine: Engine, timeout: float = 30.0) -> None:
    """Wait until every call leg of the last run has ended and been released."""
    deadline = time.monotonic() + timeout
    while engine.legs and time.monotonic() < deadline:  # noqa: ASYNC110 (no event to wait on)
        await asyncio.sleep(0.1)


def print_header(args: argparse.Namespace) -> None:
    who = "SIPp (caller)" if args.hangup == "caller" else "the engine (callee)"
    print(
        f"Call setup: SIPp uac -> engine {SERVER[0]}:{SERVER[1]} over UDP, answered with SDP and"
        f" an RTP endpoint; {who} hangs up after {args.hold_ms} ms; {args.seconds} s per rate;"
        f" {os.cpu_count()} CPUs"
    )
    print(
        "  rate  achieved  attempted  successful  failed  retrans  INVITE->200 ms"
        "  engine CPU  SIPp CPU  other CPU  load1"
    )
    print("                                                            mean    p99")


def print_row(r: RateResult) -> None:
    print(
        f"{r.rate:6d} {r.achieved:9.1f} {r.attempted:10d} {r.successful:11d} {r.failed:7d}"
        f" {r.retransmissions:8d}  {r.setup_mean_ms:6.1f} {r.setup_p99_ms:>6}"
        f"  {100 * r.engine_cpu:9.0f}% {100 * r.sipp_cpu:8.0f}% {100 * r.other_cpu:9.0f}%"
        f" {r.load:6.2f}",
        flush=True,
    )
    if r.detail:
        print(f"         failures: {r.detail}", flush=True)


async def run(args: argparse.Namespace) -> int:
    if shutil.which("sipp") is None:
        raise SystemExit("sipp is not installed (apt-get install sip-tester)")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    rates = [int(r) for r in args.rates.split(",")]
    results: list[RateResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-setup-") as tmp:
        workdir = Path(tmp)
        scenario = None
        if args.hangup == "engine":
            scenario = workdir / "uac_callee_hangs_up.xml"
            scenario.write_text(CALLEE_HANGS_UP)
        plane = InProcessMediaPlane(host=SERVER[0], port_start=50000, port_end=59999)
        engine = Engine(
            settings=EngineSettings(host=SERVER[0], port=SERVER[1]),
            media=plane,
            tts=Tts(cache_dir=workdir / "tts"),
        )
        hold = args.hold_ms / 1000 if args.hangup == "engine" else None
        engine.set_incoming_handler(Answer(hold))
        await engine.start()
        sipp = SippRunner(workdir)
        try:
            print_header(args)
            for rate in rates:
                result = await measure_rate(engine, sipp, rate, args, scenario)
                results.append(result)
                print_row(result)
                await drain(engine)
                if result.failed and args.stop_on_failure:
                    break
        finally:
            sipp.kill_all()
            await engine.close()
    best = 0
    for result in results:  # the highest rate before the first one with failures
        if result.failed or not result.attempted:
            break
        best = result.rate
    at_best = next((r for r in results if r.rate == best), None)
    cpu = f" (engine CPU {100 * at_best.engine_cpu:.0f} % of one core)" if at_best else ""
    print(f"highest rate with zero failed calls: {best} calls/s{cpu}")
    busy = max((r.other_cpu for r in results), default=0.0)
    if busy > 0.25:
        print(f"note: other processes used up to {100 * busy:.0f} % of a core; re-run when idle")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,200,300,400,500,600", help="calls/s, comma list")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each rate")
    parser.add_argument("--hold-ms", type=int, default=200, help="answered call duration")
    parser.add_argument("--hangup", choices=("caller", "engine"), default="caller")
    parser.add_argument("--stop-on-failure", action="store_true")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()

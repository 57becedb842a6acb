"""An INVITE flood against the real server, with legitimate calls and an OPTIONS probe.

``callbridge serve`` (uvloop, the production defaults of every key this bench does not
set) runs on 127.0.0.1:5190 with one user, 1002, whose contact is a SIPp `uas` on
127.0.43.3:5191 (registered from that address before SIPp binds it).  For ``--seconds``
(15) at once:

- a flooder on 127.0.43.1 (a child process, raw UDP) sends ``--flood-rate`` (3000) INVITEs a
  second, each with SDP, to a number (an outside caller may not dial one: the server
  refuses each), never waiting for an answer and never sending ACK; with
  ``--flood-sources N`` they come in turn from 127.0.44.1 to 127.0.44.N (a per-source
  limit then lets each through at its rate, and the loop's lag decides);
- SIPp's stock `uac` on 127.0.43.2 places ``--call-rate`` (20) legitimate calls a second to
  extension 1002 (``--hold-ms`` 1000 each), which the server bridges to the `uas`;
- a probe on 127.0.43.4 sends an OPTIONS every 20 ms (a monitor), waiting 2 s for each.

It reports legitimate calls completed and failed, the probe's OPTIONS latency (p50, p99, and
those never answered), what the flooder got back (503s and all answers), and the server's
RSS before the flood and 5 s after it.  ``--before REV`` first runs the same against git
revision REV (a temporary ``git worktree``, removed afterwards), with the same
configuration file, and prints both side by side.  Loopback only; every child is killed on
exit.

    .venv/bin/python bench/bench_sip_flood.py [--before REV] [--seconds 15]
        [--flood-rate 3000] [--flood-sources 1] [--call-rate 20] [--hold-ms 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVER = ("127.0.0.1", 5190)
FLOOD_HOST = "127.0.43.1"
CALLER_HOST = "127.0.43.2"
CALLEE = ("127.0.43.3", 5191)
PROBE_HOST = "127.0.43.4"
USER, PASSWORD = "1002", "bench-secret-1002"
SDP = (
    "v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
PROBE_EVERY = 0.02
PROBE_TIMEOUT = 2.0


def _request(
    method: str, host: str, port: int, n: int, *, to: str, extra: str = "", me: str = "bench"
) -> bytes:
    body = SDP.format(host=host) if method == "INVITE" else ""
    server = f"{SERVER[0]}:{SERVER[1]}"
    head = (
        f"{method} sip:{to}@{server} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK-b{n}\r\n"
        f"From: <sip:{me}@{host}>;tag=t{n}\r\n"
        f"To: <sip:{to}@{SERVER[0]}>\r\n"
        f"Call-ID: bench-{method}-{n}@{host}\r\n"
        f"CSeq: 1 {method}\r\n"
        f"Contact: <sip:{me}@{host}:{port}>\r\n"
        "Max-Forwards: 70\r\n"
        f"{extra}"
        + ("Content-Type: application/sdp\r\n" if body else "")
        + f"Content-Length: {len(body)}\r\n\r\n"
    )
    return (head + body).encode()


def _status(data: bytes) -> int | None:
    if not data.startswith(b"SIP/2.0 "):
        return None
    try:
        return int(data[8:11])
    except ValueError:
        return None


# --- the flooder (a child process: python bench_sip_flood.py flood RATE SECONDS SOURCES) ---


def flood_hosts(sources: int) -> list[str]:
    """127.0.43.1 alone, or 127.0.44.1 ... for several sources."""
    if sources == 1:
        return [FLOOD_HOST]
    return [f"127.0.44.{n}" for n in range(1, sources + 1)]


def flood(rate: int, seconds: float, sources: int) -> None:
    socks = []
    for host in flood_hosts(sources):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((host, 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        sock.setblocking(False)
        socks.append((sock, host, sock.getsockname()[1]))
    answers: dict[int, int] = {}
    sent = 0
    start = time.monotonic()

    def drain() -> None:
        for sock, _, _ in socks:
            while True:
                try:
                    data = sock.recv(65535)
                except BlockingIOError:
                    break
                status = _status(data)
                if status is not None:
                    answers[status] = answers.get(status, 0) + 1

    while (now := time.monotonic()) < start + seconds:
        due = int((now - start) * rate)
        while sent < due:
            sock, host, port = socks[sent % len(socks)]
            with contextlib.suppress(BlockingIOError):
                sock.sendto(_request("INVITE", host, port, sent, to="+15550100"), SERVER)
            sent += 1
        drain()
        time.sleep(0.002)
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        drain()
        time.sleep(0.01)
    print(json.dumps({"sent": sent, "answers": answers}))


# --- one run against the source in ``src`` ---


@dataclass
class Run:
    label: str
    calls_ok: int = 0
    calls_failed: int = 0
    probe_ms: list[float] = field(default_factory=list)
    probes_lost: int = 0
    flood_sent: int = 0
    flood_answers: dict[str, int] = field(default_factory=dict)
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0
    note: str = ""


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _config(directory: Path, http_port: int) -> Path:
    path = directory / "callbridge.toml"
    path.write_text(
        f"""[sip]
listen = "{SERVER[0]}:{SERVER[1]}"
[http]
listen = "127.0.0.1:{http_port}"
[media]
rtp_port_start = 46000
rtp_port_end = 47999
tts_cache_dir = "{directory / "tts"}"
recordings_dir = "{directory / "rec"}"
[database]
url = "sqlite+aiosqlite:///{directory / "cb.db"}"
[calls]
node = "bench-flood"
audio_cache_dir = "{directory / "audio"}"
[[users]]
extension = "{USER}"
password = "{PASSWORD}"
[[api_keys]]
key = "bench-flood-key-0123456789"
name = "bench"
"""
    )
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"the server exited ({process.returncode})")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/health", timeout=1) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def _register() -> None:
    """REGISTER 1002 from the uas's own address (the server calls the address it came from)."""
    from aiosipua import SipResponse
    from aiosipua.auth import SipDigestAuth, answer_challenge

    from callbridge.sip.message import parse_message

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(CALLEE)
        sock.settimeout(2.0)
        host, port = CALLEE

        def register(n: int, extra: str) -> SipResponse:
            request = _request("REGISTER", host, port, n, to=USER, extra=extra, me=USER)
            sock.sendto(request, SERVER)
            while True:
                message = parse_message(sock.recv(65535))
                if isinstance(message, SipResponse) and message.status_code >= 200:
                    return message

        challenge = register(1, "")
        answer = answer_challenge(
            SipDigestAuth(USER, PASSWORD), challenge, 401, "REGISTER", f"sip:{SERVER[0]}"
        )
        assert answer is not None
        final = register(2, f"Authorization: {answer[1]}\r\n")
        if final.status_code != 200:
            raise SystemExit(f"REGISTER failed: {final.status_code}")


def _probe(stop: threading.Event, run: Run) -> None:
    """Sends an OPTIONS every PROBE_EVERY until ``stop``; a thread reads the answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((PROBE_HOST, 0))
    sock.settimeout(0.2)
    port = sock.getsockname()[1]
    sent: dict[int, float] = {}
    answered: dict[int, float] = {}
    done = threading.Event()

    def receive() -> None:
        while not done.is_set():
            try:
                data = sock.recv(65535)
            except TimeoutError:
                continue
            if _status(data) == 200:
                n = int(data.split(b"branch=z9hG4bK-b", 1)[1].split(b"\r\n", 1)[0].split(b";")[0])
                answered.setdefault(n, time.monotonic())

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    n = 0
    while not stop.wait(PROBE_EVERY):
        n += 1
        sent[n] = time.monotonic()
        sock.sendto(_request("OPTIONS", PROBE_HOST, port, n, to="ping"), SERVER)
    time.sleep(PROBE_TIMEOUT)
    done.set()
    receiver.join()
    sock.close()
    for number, at in sent.items():
        back = answered.get(number)
        if back is None or back - at > PROBE_TIMEOUT:
            run.probes_lost += 1
        else:
            run.probe_ms.append((back - at) * 1000)


def _sipp(args: list[str], workdir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["sipp", *args, "-nostdin", "-cp", "0", "-max_recv_loops", "10000"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _sipp_stats(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines() if path.exists() else []
    if len(lines) < 2:
        return {}
    return dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))


def run_once(label: str, src: Path, args: argparse.Namespace) -> Run:
    run = Run(label=label)
    work = Path(tempfile.mkdtemp(prefix=f"bench-flood-{label}-"))
    http_port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(src)}
    children: list[subprocess.Popen[bytes]] = []
    with (work / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "callbridge.cli",
                "serve",
                "--config",
                str(_config(work, http_port)),
            ],
            cwd=work,
            env=env,
            stdout=log,
            stderr=log,
        )
    children.append(server)
    try:
        _wait_healthy(f"http://127.0.0.1:{http_port}", server)
        _register()
        children.append(_sipp(["-sn", "uas", "-i", CALLEE[0], "-p", str(CALLEE[1])], work))
        time.sleep(2.0)
        run.rss_before_mb = _rss_mb(server.pid)
        calls = int(args.call_rate * args.seconds)
        stat = work / "uac.csv"
        uac = _sipp(
            [
                "-sn", "uac", "-s", USER, "-i", CALLER_HOST, "-p", "5192",
                "-r", str(args.call_rate), "-m", str(calls), "-d", str(args.hold_ms),
                "-timeout", f"{args.seconds + 60}s", "-timeout_error",
                "-trace_stat", "-stf", str(stat), "-fd", "1",
                f"{SERVER[0]}:{SERVER[1]}",
            ],
            work,
        )  # fmt: skip
        children.append(uac)
        flooder = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "flood",
                str(args.flood_rate),
                str(args.seconds),
                str(args.flood_sources),
            ],
            stdout=subprocess.PIPE,
            env=env,
        )
        children.append(flooder)
        stop = threading.Event()
        probe = threading.Thread(target=_probe, args=(stop, run))
        probe.start()
        time.sleep(args.seconds)
        stop.set()
        out, _ = flooder.communicate(timeout=30)
        flood_result = json.loads(out)
        run.flood_sent = flood_result["sent"]
        run.flood_answers = {str(k): v for k, v in sorted(flood_result["answers"].items())}
        probe.join()
        uac.wait(timeout=args.seconds + 90)
        stats = _sipp_stats(stat)
        run.calls_ok = int(stats.get("SuccessfulCall(C)", 0) or 0)
        run.calls_failed = int(stats.get("FailedCall(C)", 0) or 0)
        run.calls_failed += max(0, calls - run.calls_ok - run.calls_failed)  # never finished
        time.sleep(5.0)
        run.rss_after_mb = _rss_mb(server.pid)
        if server.poll() is not None:
            run.note = f"server exited ({server.returncode})"
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.kill()
                child.wait()
        shutil.rmtree(work, ignore_errors=True)
    return run


def _percentile(values: list[float], share: float, lost: int) -> str:
    """The ``share`` percentile, counting the lost probes as slower than any answered."""
    ordered = sorted(values) + [float("inf")] * lost
    if not ordered:
        return "-"
    value = ordered[min(len(ordered) - 1, int(share * len(ordered)))]
    return f">{PROBE_TIMEOUT * 1000:.0f}" if value == float("inf") else f"{value:.1f}"


def print_runs(runs: list[Run], args: argparse.Namespace) -> None:
    print(
        f"INVITE flood {args.flood_rate}/s from {', '.join(flood_hosts(args.flood_sources)[:2])}"
        f"{' ...' if args.flood_sources > 2 else ''} for {args.seconds} s; legitimate"
        f" calls {args.call_rate}/s from {CALLER_HOST} ({args.hold_ms} ms each); OPTIONS probe"
        f" every {PROBE_EVERY * 1000:.0f} ms from {PROBE_HOST}"
    )
    rows: list[tuple[str, Callable[[Run], str]]] = [
        ("legitimate calls completed", lambda r: str(r.calls_ok)),
        ("legitimate calls failed", lambda r: str(r.calls_failed)),
        ("OPTIONS p50 ms", lambda r: _percentile(r.probe_ms, 0.50, r.probes_lost)),
        ("OPTIONS p99 ms", lambda r: _percentile(r.probe_ms, 0.99, r.probes_lost)),
        ("OPTIONS unanswered", lambda r: f"{r.probes_lost} of {r.probes_lost + len(r.probe_ms)}"),
        ("INVITEs sent by the flooder", lambda r: str(r.flood_sent)),
        ("503s seen by the flooder", lambda r: str(r.flood_answers.get("503", 0))),
        ("answers seen by the flooder", lambda r: json.dumps(r.flood_answers)),
        ("server RSS before, MB", lambda r: f"{r.rss_before_mb:.0f}"),
        ("server RSS 5 s after, MB", lambda r: f"{r.rss_after_mb:.0f}"),
    ]
    print(f"{'':32}" + "".join(f"{r.label:>42}" for r in runs))
    for name, value in rows:
        print(f"{name:32}" + "".join(f"{value(r):>42}" for r in runs))
    for r in runs:
        if r.note:
            print(f"{r.label}: {r.note}")


def run_all(args: argparse.Namespace) -> None:
    if shutil.which("sipp") is None:
        raise SystemExit("sipp is not installed (apt-get install sip-tester)")
    runs: list[Run] = []
    if args.before:
        tree = Path(tempfile.mkdtemp(prefix="bench-flood-rev-"))
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.before],
            check=True,
            capture_output=True,
        )
        try:
            runs.append(run_once(f"before ({args.before})", tree / "src", args))
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
            )
    runs.append(run_once("after (this tree)", ROOT / "src", args))
    print_runs(runs, args)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "flood":
        flood(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="git revision to measure first, side by side")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--flood-rate", type=int, default=3000)
    parser.add_argument(
        "--flood-sources", type=int, default=1, help="addresses the flood comes from (max 250)"
    )
    parser.add_argument("--call-rate", type=float, default=20.0)
    parser.add_argument("--hold-ms", type=int, default=1000)
    run_all(parser.parse_args())


if __name__ == "__main__":
    main()

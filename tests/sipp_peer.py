"""A SIPp process as a test peer: a scenario, run until its calls are done, with its counts."""

from __future__ import annotations

import asyncio
import csv
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

SCENARIOS = Path(__file__).resolve().parent / "peers" / "scenarios"


@dataclass(frozen=True)
class SippResult:
    returncode: int
    successful: int
    failed: int
    errors: str


def _port_taken(ip: str, port: int, tcp: bool) -> bool:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
    try:
        probe.bind((ip, port))
    except OSError:
        return True
    finally:
        probe.close()
    return False


class SippPeer:
    """``async with SippPeer("uas_busy.xml", ...) as peer: ...; result = await peer.result()``.

    ``scenario`` is a file in tests/peers/scenarios or a stock name (``uas``, ``uac``)."""

    def __init__(
        self,
        scenario: str,
        *,
        workdir: Path,
        ip: str = "127.0.10.2",
        port: int = 5060,
        media_port: int = 17000,
        calls: int = 1,
        remote: str | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        self._workdir = workdir
        self._ip, self._port = ip, port
        source = (
            ["-sf", str(SCENARIOS / scenario)] if scenario.endswith(".xml") else ["-sn", scenario]
        )
        self._args = [
            "sipp",
            *source,
            "-i",
            ip,
            "-p",
            str(port),
            "-m",
            str(calls),
            "-nostdin",
            "-cp",
            "0",
            "-mi",
            ip,
            "-mp",
            str(media_port),
            "-timeout",
            "30",
            "-timeout_error",
            "-trace_stat",
            "-stf",
            "stat.csv",
            "-trace_err",
            "-error_file",
            "errors.log",
            "-trace_msg",
            "-message_file",
            "messages.log",
            *extra,
        ]
        if remote:
            self._args.append(remote)
        self._tcp = "t1" in extra or "tn" in extra
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> SippPeer:
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._process = await asyncio.create_subprocess_exec(
            *self._args,
            cwd=self._workdir,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while not _port_taken(self._ip, self._port, self._tcp):
            if time.monotonic() > deadline or self._process.returncode is not None:
                raise RuntimeError(f"sipp did not start: {self._args}")
            await asyncio.sleep(0.02)
        return self

    async def result(self, timeout: float = 20) -> SippResult:
        assert self._process is not None
        returncode = await asyncio.wait_for(self._process.wait(), timeout)
        return SippResult(returncode, *self._counts(), self.log("errors.log"))

    def log(self, name: str) -> str:
        path = self._workdir / name
        return path.read_text(errors="replace") if path.exists() else ""

    def _counts(self) -> tuple[int, int]:
        path = self._workdir / "stat.csv"
        if not path.exists():
            return 0, 0
        rows = list(csv.DictReader(path.read_text().splitlines(), delimiter=";"))
        if not rows:
            return 0, 0
        last = rows[-1]
        return int(last.get("SuccessfulCall(C)", 0)), int(last.get("FailedCall(C)", 0))

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 3)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()

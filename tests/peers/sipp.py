"""Drive SIPp (sip-tester) from asyncio tests: one-shot runs and background UAS peers.

    result = await SippRun("uac", workdir=tmp, host="127.0.10.101", target="127.0.0.1:5071").run()
    assert result.ok, result.errors

    async with SippRun.uas(UasMode.BUSY, workdir=tmp, host="127.0.10.102") as uas:
        ...  # call sip:anything@127.0.10.102:5060
    assert uas.result is not None and uas.result.successful == 1

Counts come from SIPp's statistics CSV (``-trace_stat``), written at exit, also after
SIGTERM.  Custom scenarios live in ``scenarios/`` next to this file; see each file's header.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import enum
import itertools
import shutil
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from .net import is_bound

SCENARIOS = Path(__file__).parent / "scenarios"
STOCK_SCENARIOS = frozenset({"uac", "uas", "regexp", "branchc", "branchs", "uac_pcap"})
SIP_PORT = 5060
MEDIA_PORT = 6000
_run_numbers = itertools.count(1)


class UasMode(enum.StrEnum):
    """What a background SIPp UAS does with each INVITE (the scenario file's name)."""

    ANSWER = "uas_answer"  # 180, 200; waits for the caller's BYE
    ANSWER_THEN_BYE = "uas_answer_bye"  # 180, 200; sends BYE -d ms after the ACK
    BUSY = "uas_busy"  # 180, 486
    DECLINE = "uas_decline"  # 180, 603
    RING_FOREVER = "uas_ring_forever"  # 180; answers CANCEL with 200 + 487
    AUTH_401 = "uas_auth_401"  # 401, verifies Authorization, then answers
    AUTH_407 = "uas_auth_407"  # 407, needs Proxy-Authorization, then answers
    REGISTRAR = "uas_register"  # REGISTER: 401, verifies, 200


def sipp_available() -> bool:
    return shutil.which("sipp") is not None


@dataclass(frozen=True)
class SippResult:
    """Exit code and call counts of one SIPp process."""

    returncode: int
    successful: int
    failed: int
    stats: Mapping[str, str] = field(default_factory=dict)
    errors: str = ""

    @property
    def ok(self) -> bool:
        """Exited 0 with at least one successful call and no failed one."""
        return self.returncode == 0 and self.successful > 0 and self.failed == 0


def parse_stat_csv(path: Path) -> dict[str, str]:
    """The last row of a ``-trace_stat`` CSV as {column: value}; {} if there is none."""
    if not path.exists():
        return {}
    with path.open(newline="") as handle:
        rows = [row for row in csv.reader(handle, delimiter=";") if row]
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


def _count(stats: Mapping[str, str], column: str) -> int:
    try:
        return int(stats.get(column, "0"))
    except ValueError:
        return 0


def scenario_args(scenario: str | Path) -> list[str]:
    """``-sn NAME`` for a stock scenario, ``-sf FILE`` for ours or for a path."""
    if isinstance(scenario, Path):
        return ["-sf", str(scenario)]
    if scenario in STOCK_SCENARIOS:
        return ["-sn", scenario]
    path = SCENARIOS / f"{scenario}.xml"
    if not path.exists():
        raise FileNotFoundError(f"no SIPp scenario {scenario!r} (looked for {path})")
    return ["-sf", str(path)]


class SippRun:
    """One SIPp process: run it to the end (:meth:`run`) or in the background
    (:meth:`start` … :meth:`stop`, or ``async with``).

    ``target`` is ``host:port`` for a UAC; a UAS leaves it None.  ``calls`` bounds the
    calls (``-m``; None runs until stopped), ``rate`` is calls per second, ``pause_ms`` is
    ``-d`` (the length of ``<pause/>``), ``auth`` is (-au, -ap), ``variables`` are
    ``-set`` values (the scenario must declare and use each), ``rtp_echo`` echoes RTP
    received on ``media_port``.  All files go to ``workdir``.
    """

    def __init__(
        self,
        scenario: str | Path,
        *,
        workdir: Path,
        host: str,
        port: int = SIP_PORT,
        target: str | None = None,
        calls: int | None = 1,
        rate: float = 10,
        service: str | None = None,
        pause_ms: int | None = None,
        auth: tuple[str, str] | None = None,
        variables: Mapping[str, str] | None = None,
        rtp_echo: bool = False,
        media_port: int = MEDIA_PORT,
        transport: str = "u1",
        trace_messages: bool = True,
        extra: Sequence[str] = (),
    ) -> None:
        self.scenario, self.host, self.port, self.target = scenario, host, port, target
        self.calls, self.rate, self.service, self.pause_ms = calls, rate, service, pause_ms
        self.auth, self.variables = auth, dict(variables or {})
        self.rtp_echo, self.media_port, self.transport = rtp_echo, media_port, transport
        self.trace_messages, self.extra = trace_messages, tuple(extra)
        name = scenario.stem if isinstance(scenario, Path) else scenario
        self.prefix = workdir / f"sipp-{next(_run_numbers)}-{name}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.process: asyncio.subprocess.Process | None = None
        self.result: SippResult | None = None

    @classmethod
    def uas(
        cls,
        mode: UasMode,
        *,
        workdir: Path,
        host: str,
        port: int = SIP_PORT,
        calls: int | None = None,
        bye_after_ms: int = 1000,
        credentials: tuple[str, str] = ("alice", "secret"),
        rtp_echo: bool = True,
        transport: str = "u1",
        extra: Sequence[str] = (),
    ) -> SippRun:
        """A UAS that behaves as ``mode``; ``credentials`` serve AUTH_401 and REGISTRAR;
        ``transport`` is SIPp's ``-t`` (``u1`` UDP, ``t1`` one TCP connection)."""
        variables: dict[str, str] = {}
        if mode in (UasMode.AUTH_401, UasMode.REGISTRAR):
            variables = {"user": credentials[0], "password": credentials[1]}
        return cls(
            mode.value,
            workdir=workdir,
            host=host,
            port=port,
            calls=calls,
            pause_ms=bye_after_ms if mode is UasMode.ANSWER_THEN_BYE else None,
            variables=variables,
            rtp_echo=rtp_echo,
            transport=transport,
            extra=extra,
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def stat_file(self) -> Path:
        return self.prefix.with_name(self.prefix.name + "-stat.csv")

    @property
    def error_file(self) -> Path:
        return self.prefix.with_name(self.prefix.name + "-errors.log")

    @property
    def message_file(self) -> Path:
        return self.prefix.with_name(self.prefix.name + "-messages.log")

    @property
    def log_file(self) -> Path:
        return self.prefix.with_name(self.prefix.name + "-stdout.log")

    def argv(self) -> list[str]:
        args = ["sipp", *scenario_args(self.scenario)]
        if self.target:
            args.append(self.target)
        args += ["-i", self.host, "-p", str(self.port), "-t", self.transport]
        args += ["-mi", self.host, "-mp", str(self.media_port), "-nostdin", "-cp", "0"]
        args += ["-r", f"{self.rate:g}"]
        args += ["-trace_stat", "-stf", str(self.stat_file), "-fd", "1"]
        args += ["-trace_err", "-error_file", str(self.error_file)]
        if self.trace_messages:
            args += ["-trace_msg", "-message_file", str(self.message_file)]
        if self.calls is not None:
            args += ["-m", str(self.calls)]
        if self.service:
            args += ["-s", self.service]
        if self.pause_ms is not None:
            args += ["-d", str(self.pause_ms)]
        if self.auth:
            args += ["-au", self.auth[0], "-ap", self.auth[1]]
        for name, value in self.variables.items():
            args += ["-set", name, value]
        if self.rtp_echo:
            args.append("-rtp_echo")
        return [*args, *self.extra]

    async def start(self, ready_timeout: float = 5.0) -> None:
        """Start SIPp and wait until its SIP socket is bound."""
        if self.process is not None:
            raise RuntimeError("SIPp already started")
        with self.log_file.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv(), stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
            )
        try:
            await self._wait_bound(ready_timeout)
        except BaseException:
            await self._terminate(self.process)
            raise

    async def _wait_bound(self, timeout: float) -> None:
        proto = "tcp" if self.transport.startswith("t") else "udp"
        async with asyncio.timeout(timeout):
            while not is_bound(self.host, self.port, proto):
                if self.process is None:
                    raise RuntimeError("SIPp is not running")
                if self.process.returncode is not None:
                    if self.calls is not None and "Test Terminated" in self.log_tail():
                        return  # a short run (-m) bound, placed its calls and ended between looks
                    raise RuntimeError(f"SIPp exited at start:\n{self.log_tail()}")
                await asyncio.sleep(0.02)

    async def wait(self, timeout: float = 30.0) -> SippResult:
        """Wait for SIPp to exit by itself (``-m`` calls done); kill it on timeout."""
        process = self._started()
        try:
            async with asyncio.timeout(timeout):
                await process.wait()
        except TimeoutError:
            await self._terminate(process)
            message = f"SIPp still running after {timeout}s:\n{self.log_tail()}"
            raise TimeoutError(message) from None
        return self._collect(process)

    async def stop(self, grace: float = 2.0, timeout: float = 5.0) -> SippResult:
        """Stop a background SIPp and return its counts: SIGUSR1 lets the open calls end
        (a call in ``timewait`` counts only once that is over), SIGTERM after ``grace``
        seconds, SIGKILL after ``timeout`` more."""
        process = self._started()
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGUSR1)
            try:
                async with asyncio.timeout(grace):
                    await process.wait()
            except TimeoutError:
                await self._terminate(process, timeout)
        return self._collect(process)

    async def run(self, timeout: float = 30.0) -> SippResult:
        """Start, wait for the end, return the counts."""
        await self.start()
        return await self.wait(timeout)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None:
            await self.stop()

    def log_tail(self, chars: int = 3000) -> str:
        files = (self.log_file, self.error_file)  # -trace_err writes its file on a first error
        texts = [p.read_text(errors="replace") for p in files if p.exists()]
        return "\n".join(t[-chars:] for t in texts if t)

    def _started(self) -> asyncio.subprocess.Process:
        if self.process is None:
            raise RuntimeError("SIPp not started")
        return self.process

    @staticmethod
    async def _terminate(process: asyncio.subprocess.Process, timeout: float = 5.0) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    def _collect(self, process: asyncio.subprocess.Process) -> SippResult:
        stats = parse_stat_csv(self.stat_file)
        errors = self.error_file.read_text(errors="replace") if self.error_file.exists() else ""
        self.result = SippResult(
            returncode=process.returncode if process.returncode is not None else -1,
            successful=_count(stats, "SuccessfulCall(C)"),
            failed=_count(stats, "FailedCall(C)"),
            stats=stats,
            errors=errors,
        )
        return self.result

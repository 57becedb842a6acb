"""Drive baresip 1.0 from asyncio tests through its ctrl_tcp module.

    async with Baresip(tmp / "a", host="127.0.20.101") as a, Baresip(tmp / "b", ...) as b:
        await a.dial(b.uri)
        await b.wait_event("CALL_INCOMING")
        await b.answer()
        await a.wait_event("CALL_ESTABLISHED")

ctrl_tcp speaks netstrings (``LEN:JSON,``).  A command is ``{"command", "params",
"token"}``; its response is ``{"response": true, "ok", "data", "token"}``; events are
``{"event": true, "type", "class", "accountaor", "direction", "peeruri", "id", "param"}``.

What baresip 1.0.0 does (checked on Debian's package):
- Commands: ``dial URI``, ``accept`` (answer the current incoming call), ``hangup``
  (ends the current call; on a ringing incoming call it rejects with 486), ``sndcode
  DIGITS`` (RFC 4733 events on the current call), ``uanew ACCOUNT``, ``quit``.
- Events: CALL_INCOMING, CALL_RINGING, CALL_PROGRESS, CALL_ESTABLISHED, CALL_CLOSED (param is
  the reason, e.g. "Connection reset by peer" or "486 Busy Here"), CALL_DTMF_START (param is
  the digit), CALL_DTMF_END, REGISTERING, REGISTER_OK, REGISTER_FAIL, UNREGISTERING.
- ``answermode=auto`` in the account answers at once and sends no CALL_INCOMING event.
- aufile is a source only in 1.0: the received audio is recorded by the ``sndfile`` filter
  as ``dump-<date-time>-dec.wav`` (what was sent: ``-enc.wav``) in ``snd_path``, named by
  the second; its header is final once the call has closed.
- The account is added with ``uanew`` after the control connection is up, so that the
  REGISTER_* events of the first registration are not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import tempfile
import wave
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np

from .net import free_tcp_port, next_rtp_range

Event = dict[str, Any]
SIP_PORT = 5060
RATE = 8000
MODULE_DIRS = (Path("/usr/lib/baresip/modules"), Path("/usr/local/lib/baresip/modules"))
_tokens = itertools.count(1)


def baresip_available() -> bool:
    return shutil.which("baresip") is not None


def write_tone_wav(path: Path, frequency: float = 440.0, seconds: float = 60.0) -> Path:
    """A mono 16-bit 8 kHz sine WAV (baresip hangs up when its source file ends)."""
    t = np.arange(int(RATE * seconds)) / RATE
    samples = (0.3 * 32767 * np.sin(2 * np.pi * frequency * t)).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(samples.tobytes())
    return path


def netstring(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


def module_dir() -> Path:
    return next((d for d in MODULE_DIRS if d.is_dir()), MODULE_DIRS[0])


class BaresipError(RuntimeError):
    pass


class Baresip:
    """One baresip process with a private config dir, driven over ctrl_tcp.

    Without ``registrar`` the account is local (``sip:USER@HOST:PORT``, no REGISTER);
    with ``registrar="host:port"`` it registers ``sip:USER@registrar`` with ``password``
    every ``regint`` seconds; ``transport="tcp"`` registers and calls over TCP.
    ``auto_answer`` sets ``answermode=auto``.  The audio source
    is a ``tone_hz`` sine unless ``source_wav`` is given.  ``sip_trace`` logs every SIP
    message (baresip ``-s``) to :meth:`log_text`.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        host: str,
        port: int = SIP_PORT,
        user: str = "peer",
        registrar: str | None = None,
        password: str | None = None,
        regint: int = 60,
        auto_answer: bool = False,
        tone_hz: float = 440.0,
        source_wav: Path | None = None,
        rtp_ports: tuple[int, int] | None = None,
        transport: str = "udp",
        sip_trace: bool = False,
    ) -> None:
        self.workdir, self.host, self.port, self.user = workdir, host, port, user
        self.sip_trace = sip_trace  # baresip -s: every SIP message it sends and receives, logged
        self.registrar, self.password, self.regint = registrar, password, regint
        self.auto_answer, self.tone_hz, self.source_wav = auto_answer, tone_hz, source_wav
        self.rtp_ports = rtp_ports or next_rtp_range()
        self.transport = transport
        self.config_dir = workdir / "config"
        self.recordings_dir = workdir / "recordings"
        self._short_dir: Path | None = None  # see _short_recordings_path
        self.log_file = workdir / "baresip.log"
        self.ctrl_port = 0
        self.events: list[Event] = []
        self._consumed: set[int] = set()
        self._changed = asyncio.Condition()
        self._pending: dict[str, asyncio.Future[Event]] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None

    # --- addresses and files -------------------------------------------------------

    @property
    def uri(self) -> str:
        """Where to call this peer directly."""
        return f"sip:{self.user}@{self.host}:{self.port}"

    @property
    def aor(self) -> str:
        """The account's address of record."""
        suffix = "" if self.transport == "udp" else f";transport={self.transport}"
        return (f"sip:{self.user}@{self.registrar}" if self.registrar else self.uri) + suffix

    def account_line(self) -> str:
        params = [f"answermode={'auto' if self.auto_answer else 'manual'}"]
        if self.registrar:
            params += [f"auth_pass={self.password or ''}", f"regint={self.regint}"]
        else:
            params.append("regint=0")
        return f"<{self.aor}>;" + ";".join(params)

    def recordings(self, kind: str = "dec") -> list[Path]:
        """Recordings of received (``dec``) or sent (``enc``) audio, oldest first."""
        files = self.recordings_dir.glob(f"dump-*-{kind}.wav")
        return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))

    @property
    def recorded_wav(self) -> Path | None:
        """The latest recording of received audio (complete once CALL_CLOSED came)."""
        found = self.recordings("dec")
        return found[-1] if found else None

    @property
    def received_dtmf(self) -> str:
        """Digits reported received (CALL_DTMF_START), in order."""
        return "".join(e.get("param", "") for e in self.events if e["type"] == "CALL_DTMF_START")

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    # --- life cycle ----------------------------------------------------------------

    def write_config(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        if self.source_wav is None:
            self.source_wav = write_tone_wav(self.workdir / "source.wav", self.tone_hz)
        self.ctrl_port = free_tcp_port()
        lines = [
            "poll_method epoll",
            f"net_interface {self.host}",
            f"sip_listen {self.host}:{self.port}",
            "call_local_timeout 120",
            "call_max_calls 4",
            "audio_player aubridge,nil",
            f"audio_source aufile,{self.source_wav}",
            "audio_alert aubridge,nil",
            "ringback_disabled yes",
            f"rtp_ports {self.rtp_ports[0]}-{self.rtp_ports[1]}",
            "rtp_timeout 0",
            f"module_path {module_dir()}",
            *(f"module {m}" for m in ("g711.so", "aufile.so", "aubridge.so", "sndfile.so")),
            "module_tmp account.so",
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
            f"snd_path {self._short_recordings_path()}",
        ]
        (self.config_dir / "config").write_text("\n".join(lines) + "\n")
        (self.config_dir / "accounts").write_text("# added with uanew once ctrl_tcp is up\n")
        (self.config_dir / "contacts").write_text("")

    def _short_recordings_path(self) -> Path:
        """A short path to :attr:`recordings_dir` (a symbolic link in a temporary folder):
        baresip's sndfile module builds each file name in a 128-byte buffer and silently
        cuts longer ones (the ``.wav`` goes first), which a deep test folder (pytest-xdist
        adds ``popen-gwN/``) reaches."""
        if self._short_dir is None:
            self._short_dir = Path(tempfile.mkdtemp(prefix="bs"))
            (self._short_dir / "r").symlink_to(self.recordings_dir.resolve())
        return self._short_dir / "r"

    async def start(self, timeout: float = 10.0) -> None:
        """Write the config, start baresip, connect to ctrl_tcp, add the account."""
        self.write_config()
        with self.log_file.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                "baresip",
                "-f",
                str(self.config_dir),
                *(("-s",) if self.sip_trace else ()),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        try:
            async with asyncio.timeout(timeout):
                await self._connect()
            await self.command("uanew", self.account_line())
        except BaseException:
            await self.stop()
            raise

    async def _connect(self) -> None:
        while True:
            if self._process is None or self._process.returncode is not None:
                raise BaresipError(f"baresip exited at start:\n{self.log_text()[-3000:]}")
            try:
                reader, self._writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
                break
            except OSError:
                await asyncio.sleep(0.05)
        self._reader_task = asyncio.create_task(self._read_loop(reader))

    async def stop(self, timeout: float = 2.0) -> None:
        """``quit``, then SIGKILL after ``timeout`` s; close the control connection.

        (baresip treats SIGTERM like ``quit``: both wait for un-REGISTER, which takes
        long when the registrar is gone.)"""
        process = self._process
        if process is not None and process.returncode is None:
            if self._writer is not None:
                with contextlib.suppress(OSError, RuntimeError):
                    self._send({"command": "quit", "token": "quit"})
            await self._reap(process, timeout)
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._short_dir is not None:
            shutil.rmtree(self._short_dir, ignore_errors=True)  # the link, not what it points to
            self._short_dir = None

    async def kill(self) -> None:
        """SIGKILL, like a phone that loses its power or network: no BYE, no more RTP."""
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        await self.stop()

    @staticmethod
    async def _reap(process: asyncio.subprocess.Process, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- control protocol ----------------------------------------------------------

    def _send(self, message: dict[str, str]) -> None:
        if self._writer is None:
            raise BaresipError("not connected to baresip")
        self._writer.write(netstring(json.dumps(message).encode()))

    async def command(self, name: str, params: str | None = None, timeout: float = 5.0) -> str:
        """Run a ctrl_tcp command; return its response text or raise BaresipError."""
        token = f"t{next(_tokens)}"
        message = {"command": name, "token": token}
        if params is not None:
            message["params"] = params
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._pending[token] = future
        try:
            self._send(message)
            async with asyncio.timeout(timeout):
                response = await future
        finally:
            self._pending.pop(token, None)
        if not response.get("ok"):
            raise BaresipError(f"{name} {params or ''}: {response.get('data', '')}")
        return str(response.get("data", ""))

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                length = int((await reader.readuntil(b":"))[:-1])
                payload = await reader.readexactly(length + 1)
                await self._dispatch(json.loads(payload[:-1]))

    async def _dispatch(self, message: Event) -> None:
        if message.get("response"):
            future = self._pending.get(str(message.get("token")))
            if future is not None and not future.done():
                future.set_result(message)
        elif message.get("event"):
            async with self._changed:
                self.events.append(message)
                self._changed.notify_all()

    # --- events --------------------------------------------------------------------

    async def wait_event(
        self, kind: str, timeout: float = 10.0, where: Callable[[Event], bool] | None = None
    ) -> Event:
        """The oldest event of type ``kind`` not returned before (optionally matching
        ``where``); waits up to ``timeout`` seconds for one to come."""

        def find() -> tuple[int] | None:  # a tuple: index 0 must count as found
            for index, event in enumerate(self.events):
                if index in self._consumed or event.get("type") != kind:
                    continue
                if where is None or where(event):
                    return (index,)
            return None

        try:
            async with asyncio.timeout(timeout), self._changed:
                found = await self._changed.wait_for(find)
        except TimeoutError:
            seen = [e.get("type") for e in self.events]
            raise TimeoutError(f"{self.user}: no {kind} in {timeout}s; events: {seen}") from None
        assert found is not None  # wait_for returns only a true value
        self._consumed.add(found[0])
        return self.events[found[0]]

    # --- calls ---------------------------------------------------------------------

    async def dial(self, uri: str) -> None:
        await self.command("dial", uri)

    async def answer(self) -> None:
        await self.command("accept")

    async def hangup(self) -> None:
        await self.command("hangup")

    async def send_dtmf(self, digits: str) -> None:
        """RFC 4733 events for ``digits`` on the current call."""
        await self.command("sndcode", digits)

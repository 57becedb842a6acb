"""``callbridge serve`` as a child process of a test: its configuration file
(:func:`write_config`), started on it and ready once ``/health`` answers; stopped cleanly,
or killed like a crash."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import httpx

# Load shedding (``overload_lag_ms``) has tests of its own; here it would only measure how busy
# the test machine is (two test workers, SIPp, baresip and the server share two cores), so it
# trips at a lag no healthy server reaches, not at the production defaults (200/300 ms).
OVERLOAD_LAG_MS = 2000


def write_config(
    directory: Path,
    *,
    sip_port: int,
    http_port: int,
    rtp_ports: tuple[int, int],
    node: str,
    api_key: str,
    database_url: str | None = None,
    allow_networks: tuple[str, ...] = ("127.0.0.0/8",),
    calls: str = "",
    more: str = "",
    sip: str = "",
    media: str = "",
) -> Path:
    """A configuration whose files all live in ``directory`` (SQLite there too, unless
    ``database_url``); ``calls`` is more of the ``[calls]`` section (TOML lines), ``sip``
    more keys of ``[sip]``, ``more`` is TOML appended (trunks, users, lines).  The tests'
    receivers are on loopback, which the server refuses unless ``allow_networks`` holds it."""
    database_url = database_url or f"sqlite+aiosqlite:///{directory / 'callbridge.db'}"
    path = directory / "callbridge.toml"
    path.write_text(
        f"""
[sip]
listen = "127.0.0.1:{sip_port}"
overload_lag_ms = {OVERLOAD_LAG_MS}
{sip}
[http]
listen = "127.0.0.1:{http_port}"
[media]
rtp_port_start = {rtp_ports[0]}
rtp_port_end = {rtp_ports[1]}
tts_cache_dir = "{directory / "tts"}"
recordings_dir = "{directory / "recordings"}"
announcements_dir = "{directory / "announcements"}"
{media}
[database]
url = "{database_url}"
[calls]
node = "{node}"
audio_cache_dir = "{directory / "audio"}"
webhook_timeout = 2.0
overload_lag_ms = {OVERLOAD_LAG_MS}
{calls}
[http_client]
allow_networks = {list(allow_networks)!r}
[[api_keys]]
key = "{api_key}"
name = "test"
allow_sip_uris = true  # the tests dial SIPp and baresip by SIP URI
{more}"""
    )
    return path


class Server:
    """``callbridge serve`` as a child process."""

    def __init__(self, config: Path, http_port: int, log: Path) -> None:
        self._config, self._log = config, log
        self.url = f"http://127.0.0.1:{http_port}"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self._log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "callbridge.cli",
                "serve",
                "--config",
                str(self._config),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if self.process.returncode is not None:
                    break
                await asyncio.sleep(0.05)
        raise RuntimeError(f"server did not start: {self._log.read_text()[-3000:]}")

    async def kill(self) -> None:
        """SIGKILL: no clean shutdown, no BYE, no flushing — a crash."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        await self.process.wait()

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    async def wait_exit(self, timeout: float) -> int:
        """The server's exit status once it has exited (``TimeoutError`` after ``timeout``)."""
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def stop(self) -> None:
        """SIGTERM twice: the second ends the live calls at once instead of after
        ``drain_seconds``."""
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 0.5)
            if self.process.returncode is None:
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

"""A throwaway PostgreSQL server for the tests: a cluster of its own in a temporary folder.

:func:`start` runs ``initdb`` and ``postgres`` from the Debian packages
(``/usr/lib/postgresql/<version>/bin``, or the folder ``CALLBRIDGE_TEST_PG_BIN`` names) and
listens on a Unix socket in the cluster's folder only: no TCP port, so it never meets another
test run's server.  PostgreSQL refuses to run as root; as root the cluster belongs to the
``postgres`` user (made by the Debian package), or ``nobody``.  Durability is switched off
(``fsync=off``): the cluster lives as long as the test session.  The server is told to quit
if the test process dies without stopping it (``PR_SET_PDEATHSIG``).

:func:`missing` says why no server can be had here (the tests that need one are skipped), or
``None``.
"""

from __future__ import annotations

import ctypes
import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"
PORT = 5432  # only names the socket file (.s.PGSQL.5432) in the cluster's folder
START_TIMEOUT = 30.0
SETTINGS = {
    "listen_addresses": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
}
_PR_SET_PDEATHSIG = 1


def bin_dir() -> Path | None:
    """The folder of ``initdb`` and ``postgres``: the newest Debian version's, if any."""
    configured = os.environ.get("CALLBRIDGE_TEST_PG_BIN")
    if configured:
        return Path(configured)
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda p: _version(p.parent.name),
    )
    return found[-1] if found else None


def missing() -> str | None:
    """Why the PostgreSQL tests cannot run here, or ``None`` when they can."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return "asyncpg is not installed (pip install -e '.[dev]')"
    binaries = bin_dir()
    if binaries is None or not (binaries / "initdb").exists():
        return "PostgreSQL server binaries not found (apt-get install postgresql)"
    if os.geteuid() == 0 and _owner() is None:
        return "running as root and neither the postgres nor the nobody user exists"
    return None


@dataclass(frozen=True)
class Server:
    """A running cluster: its socket folder, and how to stop it."""

    socket_dir: Path
    stop: Callable[[], None]

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on this server (asyncpg, over the socket)."""
        return f"postgresql+asyncpg://{SUPERUSER}@/{database}?host={self.socket_dir}&port={PORT}"

    def connect_kwargs(self, database: str = "postgres") -> dict[str, object]:
        """``asyncpg.connect`` arguments for an administrative connection."""
        return {"host": str(self.socket_dir), "port": PORT, "user": SUPERUSER, "database": database}


def start() -> Server:
    """Make a cluster in a temporary folder and start its server; ready when it returns."""
    binaries = bin_dir()
    assert binaries is not None, missing()
    owner = _owner() if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="callbridge-pg-"))
    data = root / "data"
    log = root / "server.log"
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    as_owner = _as(owner)
    try:
        subprocess.run(
            [
                str(binaries / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
            **as_owner,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {exc.stderr or exc.stdout}") from exc
    command = [str(binaries / "postgres"), "-D", str(data), "-k", str(root), "-p", str(PORT)]
    for name, value in SETTINGS.items():
        command += ["-c", f"{name}={value}"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_quit_with_parent,
            **as_owner,
        )

    def stop() -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # fast shutdown: sessions are cut
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)

    server = Server(socket_dir=root, stop=stop)
    try:
        _wait_ready(binaries, server, process, log)
    except BaseException:
        stop()
        raise
    return server


def _wait_ready(
    binaries: Path, server: Server, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    probe = [str(binaries / "pg_isready"), "-q", "-h", str(server.socket_dir), "-p", str(PORT)]
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"postgres exited ({process.returncode}): {_tail(log)}")
        if subprocess.run(probe, check=False).returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"postgres not ready after {START_TIMEOUT:.0f} s: {_tail(log)}")
        time.sleep(0.05)


def _owner() -> pwd.struct_passwd | None:
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


def _as(owner: pwd.struct_passwd | None) -> dict[str, object]:
    """``subprocess`` arguments that run a command as ``owner`` (when root)."""
    if owner is None:
        return {}
    env = {**os.environ, "HOME": owner.pw_dir, "USER": owner.pw_name, "LOGNAME": owner.pw_name}
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": [], "env": env}


def _quit_with_parent() -> None:
    """In the server's process (after its user is set): quit at once when the test process
    dies, so an interrupted run leaves no server behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT, 0, 0, 0)


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-2000:]
    except OSError:
        return "(no log)"


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


_databases = itertools.count(1)


@asynccontextmanager
async def fresh_database(server: Server) -> AsyncIterator[str]:
    """A new empty database on ``server`` (its URL), dropped afterwards."""
    import asyncpg

    name = f"test_{os.getpid()}_{next(_databases)}"
    admin = await asyncpg.connect(**server.connect_kwargs())
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await admin.close()
    try:
        yield server.url(name)
    finally:
        admin = await asyncpg.connect(**server.connect_kwargs())
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

"""The ``callbridge`` command as an operator runs it: its version, a configuration check,
the database upgrade, and a start that cannot happen said in one line (a port in use, a
database it cannot reach) instead of a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from callbridge.cli import package_version
from peers.net import free_tcp_port
from server_process import write_config

EXAMPLE = Path(__file__).resolve().parent.parent / "callbridge.example.toml"
KEY = "cli-test-key-0123456789"


def callbridge(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callbridge.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def config(
    tmp_path: Path, *, http_port: int, sip_port: int, database_url: str | None = None
) -> Path:
    return write_config(
        tmp_path,
        sip_port=sip_port,
        http_port=http_port,
        rtp_ports=(41000, 41099),
        node="cli",
        api_key=KEY,
        database_url=database_url,
    )


@pytest.fixture
def occupied() -> Iterator[socket.socket]:
    """A TCP and UDP port held by this test (another server on it)."""
    port = free_tcp_port()
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", port))
    tcp.listen()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    yield tcp
    tcp.close()
    udp.close()


def test_version() -> None:
    done = callbridge("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"callbridge {package_version()}"


def test_check_config_of_the_example_warns_of_its_placeholder_key() -> None:
    done = callbridge("check-config", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    assert "ok: SIP on 127.0.0.1:5060" in done.stdout
    assert "placeholder" in done.stdout


def test_check_config_of_a_bad_file_names_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[sip]\nlisten = "127.0.0.1:99999"\n')
    done = callbridge("check-config", str(bad))
    assert done.returncode == 2
    assert "bad port" in done.stderr
    assert "Traceback" not in done.stderr


def test_db_upgrade_migrates_a_new_database(tmp_path: Path) -> None:
    path = config(tmp_path, http_port=free_tcp_port(), sip_port=free_tcp_port())
    done = callbridge("db", "upgrade", "--config", str(path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "callbridge.db").stat().st_size > 0
    again = callbridge("db", "upgrade", "--config", str(path))
    assert again.returncode == 0, again.stderr


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.startswith("callbridge: ")]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def test_an_http_port_in_use_is_one_line(tmp_path: Path, occupied: socket.socket) -> None:
    port = occupied.getsockname()[1]
    done = callbridge(
        "serve", "--config", str(config(tmp_path, http_port=port, sip_port=free_tcp_port()))
    )
    assert done.returncode == 1
    assert one_line(done) == (
        f"callbridge: HTTP address 127.0.0.1:{port} is already in use "
        "(is another server running on it?)"
    )


def test_a_sip_port_in_use_is_one_line(tmp_path: Path, occupied: socket.socket) -> None:
    port = occupied.getsockname()[1]
    done = callbridge(
        "serve", "--config", str(config(tmp_path, http_port=free_tcp_port(), sip_port=port))
    )
    assert done.returncode == 1
    assert one_line(done).startswith(f"callbridge: SIP address 127.0.0.1:{port} is already in use")


def test_a_database_that_cannot_be_reached_is_one_line_without_its_password(
    tmp_path: Path,
) -> None:
    closed = free_tcp_port()
    url = f"postgresql+asyncpg://callbridge:hunter2@127.0.0.1:{closed}/callbridge"
    path = config(tmp_path, http_port=free_tcp_port(), sip_port=free_tcp_port(), database_url=url)
    done = callbridge("serve", "--config", str(path))
    assert done.returncode == 1
    line = one_line(done)
    assert line.startswith(
        f"callbridge: cannot use the database postgresql+asyncpg://callbridge:***@127.0.0.1:{closed}"
    )
    assert "hunter2" not in done.stderr


def test_the_deployment_example_configuration_is_valid() -> None:
    example = EXAMPLE.parent / "deploy" / "callbridge-postgresql.toml"
    done = callbridge("check-config", str(example))
    assert done.returncode == 0, done.stderr
    assert "postgresql+asyncpg://callbridge:***@" in done.stdout

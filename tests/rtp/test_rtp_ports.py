from __future__ import annotations

import socket

import pytest

from callbridge.rtp.ports import NoFreePort, PortPool


def _free_range(size: int) -> int:
    """An even base port with ``size`` ports after it that nothing holds right now."""
    for base in range(41000, 60000, 64):
        socks: list[socket.socket] = []
        try:
            for port in range(base, base + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


def test_even_ports_are_held_until_released_and_then_exhausted() -> None:
    base = _free_range(6)
    pool = PortPool(host="127.0.0.1", start=base + 1, end=base + 5)
    try:
        leases = [pool.acquire(), pool.acquire()]
        assert [lease.port for lease in leases] == [base + 2, base + 4]
        with pytest.raises(NoFreePort):
            pool.acquire()
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with pytest.raises(OSError, match="in use"):
            probe.bind(("127.0.0.1", base + 2))
        probe.close()
        pool.release(leases[0])
        assert pool.held == 2
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with pytest.raises(OSError, match="in use"):  # released ports stay held by the pool
            probe.bind(("127.0.0.1", base + 2))
        probe.close()
        assert pool.acquire().port == base + 2
    finally:
        pool.close()


def test_ports_taken_by_someone_else_are_skipped() -> None:
    base = _free_range(4)
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind(("127.0.0.1", base))
    pool = PortPool(host="127.0.0.1", start=base, end=base + 3)
    try:
        assert pool.acquire().port == base + 2
        with pytest.raises(NoFreePort):
            pool.acquire()
    finally:
        pool.close()
        squatter.close()


def test_reused_socket_is_drained_of_stale_packets() -> None:
    base = _free_range(2)
    pool = PortPool(host="127.0.0.1", start=base, end=base + 1)
    try:
        lease = pool.acquire()
        pool.release(lease)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.sendto(b"stale", ("127.0.0.1", lease.port))
        sender.close()
        again = pool.acquire()
        assert again.sock is lease.sock
        with pytest.raises(BlockingIOError):
            again.sock.recv(100)
    finally:
        pool.close()


def test_bad_range_is_rejected() -> None:
    with pytest.raises(ValueError, match="range"):
        PortPool(host="127.0.0.1", start=20000, end=10000)

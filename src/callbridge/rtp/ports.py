"""A pool of held UDP sockets on even ports for RTP (RFC 3550 §11: RTP on even ports).

A port is bound once and then held for the pool's lifetime: releasing a lease returns the
bound socket to the pool instead of closing it, so no other process can take the port
between calls and there is no bind-then-release race.  Ports are bound lazily, lowest
first; released sockets are reused oldest-released first, so a port that just carried a
call is the last one handed out again (late packets from the old call drain away).
"""

from __future__ import annotations

import errno
import socket
from collections import deque
from dataclasses import dataclass

_RECEIVE_BUFFER = 256 * 1024


class NoFreePort(Exception):
    """No even UDP port of the range can be had (all leased, or the pool is closed)."""


@dataclass(frozen=True)
class PortLease:
    """One held socket lent out by a :class:`PortPool`."""

    port: int
    sock: socket.socket


class PortPool:
    """Binds even UDP ports in ``[start, end]`` on ``host`` on demand and holds them."""

    def __init__(self, *, host: str, start: int, end: int) -> None:
        if start > end or start < 1 or end > 65535:
            raise ValueError(f"bad RTP port range {start}-{end}")
        self._host = host
        self._family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._unbound = deque(range(start + (start & 1), end + 1, 2))
        self._free: deque[PortLease] = deque()
        self._leased: dict[int, PortLease] = {}
        self._closed = False

    @property
    def host(self) -> str:
        return self._host

    @property
    def leased(self) -> int:
        return len(self._leased)

    @property
    def held(self) -> int:
        return len(self._leased) + len(self._free)

    def acquire(self) -> PortLease:
        """Lend a held socket; raises :class:`NoFreePort` when none can be had."""
        if self._closed:
            raise NoFreePort("port pool is closed")
        lease = self._reuse() or self._bind_next()
        if lease is None:
            raise NoFreePort(f"no free even UDP port on {self._host}")
        self._leased[lease.port] = lease
        return lease

    def release(self, lease: PortLease) -> None:
        """Return the socket to the pool (or close it when the pool is closed or it broke)."""
        if self._leased.pop(lease.port, None) is None:
            return
        if self._closed or lease.sock.fileno() < 0:
            lease.sock.close()
            if not self._closed:
                self._unbound.append(lease.port)
            return
        self._free.append(lease)

    def close(self) -> None:
        """Close the idle sockets; leased ones close when released."""
        self._closed = True
        while self._free:
            self._free.popleft().sock.close()

    def _reuse(self) -> PortLease | None:
        if not self._free:
            return None
        lease = self._free.popleft()
        _drain(lease.sock)
        return lease

    def _bind_next(self) -> PortLease | None:
        while self._unbound:
            port = self._unbound.popleft()
            sock = self._try_bind(port)
            if sock is not None:
                return PortLease(port=port, sock=sock)
        return None

    def _try_bind(self, port: int) -> socket.socket | None:
        sock = socket.socket(self._family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
            sock.bind((self._host, port))
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return None
            raise
        sock.setblocking(False)
        return sock


def _drain(sock: socket.socket) -> None:
    """Discard datagrams that arrived while the socket sat idle in the pool."""
    while True:
        try:
            sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return

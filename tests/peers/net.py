"""Loopback addresses and ports for test peers.

Each peer gets its own loopback address (SIPp on 127.0.10.x, baresip on 127.0.20.x), so
fixed ports such as 5060 can be reused.  Ports are checked by reading /proc/net, never by
binding, so a check cannot race a peer that is binding the same port.
"""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import Iterable
from pathlib import Path

SIPP_NET = "127.0.10"
BARESIP_NET = "127.0.20"
BARESIP_RTP = (30000, 39999)
RTP_SLOT_SIZE = 100


def _bound(proto: str) -> set[tuple[str, int]]:
    """(ip, port) pairs bound for ``proto`` ("udp" or "tcp") in this network namespace."""
    found: set[tuple[str, int]] = set()
    path = Path("/proc/net") / proto
    if not path.exists():
        return found
    for line in path.read_text().splitlines()[1:]:
        local = line.split()[1]
        hex_ip, hex_port = local.split(":")
        ip = socket.inet_ntoa(int(hex_ip, 16).to_bytes(4, "little"))
        found.add((ip, int(hex_port, 16)))
    return found


def is_bound(host: str, port: int, proto: str = "udp") -> bool:
    """Whether something is bound to ``host:port`` (or to the wildcard on ``port``)."""
    bound = _bound(proto)
    return (host, port) in bound or ("0.0.0.0", port) in bound


def ports_free(host: str, ports: Iterable[int]) -> bool:
    """Whether none of ``ports`` is bound on ``host`` for UDP or TCP."""
    bound = _bound("udp") | _bound("tcp")
    return not any((h, p) in bound for p in ports for h in (host, "0.0.0.0"))


class AddressPool:
    """Hands out loopback addresses ``NET.first`` .. ``NET.last`` whose ports are free.

    The walk starts at an offset taken from the process id, so two test runs on one
    machine start on different addresses.
    """

    def __init__(self, net: str, first: int = 100, last: int = 249) -> None:
        hosts = [f"{net}.{n}" for n in range(first, last + 1)]
        start = os.getpid() % len(hosts)
        self._cycle = itertools.cycle(hosts[start:] + hosts[:start])
        self._size = len(hosts)

    def take(self, ports: Iterable[int]) -> str:
        """The next address on which all of ``ports`` are free (UDP and TCP)."""
        wanted = tuple(ports)
        for _ in range(self._size):
            host = next(self._cycle)
            if ports_free(host, wanted):
                return host
        raise RuntimeError(f"no loopback address with ports {wanted} free")


SIPP_POOL = AddressPool(SIPP_NET)
BARESIP_POOL = AddressPool(BARESIP_NET)
_rtp_slots = itertools.count(os.getpid())


def next_rtp_range() -> tuple[int, int]:
    """A baresip RTP port range of its own inside :data:`BARESIP_RTP`."""
    slots = (BARESIP_RTP[1] + 1 - BARESIP_RTP[0]) // RTP_SLOT_SIZE
    first = BARESIP_RTP[0] + (next(_rtp_slots) % slots) * RTP_SLOT_SIZE
    return first, first + RTP_SLOT_SIZE - 1


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A TCP port the kernel reports free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])

"""The server's own IP addresses, which the ``"self"`` deny rule stands for (read once, at
start-up): every interface's addresses (Linux: ``/proc/net/if_inet6`` and the
``SIOCGIFADDR`` ioctl), the host name's, and the addresses the server is configured with."""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
from collections.abc import Iterable
from ipaddress import ip_address
from pathlib import Path

from callbridge.httpclient.address_policy import Address, normalized

SIOCGIFADDR = 0x8915
IF_INET6 = Path("/proc/net/if_inet6")


def own_addresses(configured: Iterable[str] = ()) -> frozenset[Address]:
    """``configured``: hosts from the configuration (listen and advertised addresses); the
    ones that are IP addresses are kept (``0.0.0.0`` and ``::`` are denied by their own
    rules)."""
    found: set[Address] = set()
    for text in (*configured, *_interface_ipv4(), *_interface_ipv6(), *_host_name()):
        with contextlib.suppress(ValueError):
            found.add(normalized(text))
    return frozenset(found)


def _interface_ipv4() -> list[str]:
    addresses: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)
            except OSError:  # no IPv4 address on that interface
                continue
            addresses.append(socket.inet_ntoa(answer[20:24]))
    return addresses


def _interface_ipv6() -> list[str]:
    try:
        lines = IF_INET6.read_text().splitlines()
    except OSError:
        return []
    return [str(ip_address(bytes.fromhex(line.split()[0]))) for line in lines if line.strip()]


def _host_name() -> list[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    return [str(info[4][0]) for info in infos]

"""A network namespace of its own for each pytest-xdist worker.

The real-peer tests bind fixed loopback ports (SIP 5300…, RTP ranges, SIPp and baresip on
127.0.x.y) and assume nobody else holds them.  Two workers running such tests at once would
collide, so each worker, before its first test, moves into a new network namespace
(``unshare(CLONE_NEWNET)``, which needs root — ``make test`` runs workers only then) and
brings its own loopback interface up.  Every child it starts (``callbridge serve``, SIPp,
baresip, PostgreSQL) inherits the namespace.  The worker talks to the controller over pipes,
not the network, so nothing else changes.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFREQ = "16sH14s"  # struct ifreq: the name, then ifr_flags in the union


def isolate() -> None:
    """Move this process into a new network namespace with loopback up."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare(CLONE_NEWNET): {os.strerror(errno)} (run as root)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(IFREQ, b"lo", 0, b"")
        flags = struct.unpack(IFREQ, fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP, b""))

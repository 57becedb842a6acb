"""SIP's UDP socket (RFC 3261 §18.1.1, §18.2.1), read in batches.

asyncio's datagram transport reads one datagram each turn of the event loop.  A turn of a
loop that also runs media for many calls is long, so SIP messages waited in the socket:
with 80 bridged calls, 714 KB of them queued (seconds of SIP) while the loop was never more
than 0.2 s late, INVITEs were retransmitted past T1 and their 200 OKs answered too late.
Here each readiness of the socket reads up to :data:`READ_BATCH` datagrams, as the RTP
pump (:mod:`callbridge.rtp.pump`) does for media: 16 times asyncio's rate, while a backlog
holds the loop for at most 16 messages' work (some ms) before other callbacks run.  64 fixed
the callbacks as well, but the outbound-call bench's latency at 80 calls/s looked worse with
it (noisy figures on a shared VM).

Sending is straight to the non-blocking socket; a full send buffer drops the datagram,
which the transaction layer's retransmissions make good (§17.1.1.2, §17.1.2.2).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

READ_BATCH = 16
MAX_DATAGRAM = 65535
# What arrives while the event loop is busy waits here, and what does not fit is dropped
# by the kernel (the sender retransmits after T1, or a 200 OK is lost for good).  Linux
# caps the request at net.core.rmem_max (often 208 KiB; raise it on a busy server).
RECEIVE_BUFFER = 4 * 1024 * 1024

Address = tuple[Any, ...]
OnDatagram = Callable[[bytes, Address], None]


class UdpEndpoint:
    """A bound, non-blocking UDP socket whose datagrams go to ``on_datagram``."""

    def __init__(self, *, sock: socket.socket, on_datagram: OnDatagram) -> None:
        self.sock = sock
        self._on_datagram = on_datagram
        self._loop: asyncio.AbstractEventLoop | None = None
        self.send_drops = 0

    @classmethod
    def bind(cls, host: str, port: int, *, on_datagram: OnDatagram) -> UdpEndpoint:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            sock.bind(address)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        size = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        log.debug("SIP UDP receive buffer: %d bytes", size)
        return cls(sock=sock, on_datagram=on_datagram)

    @property
    def port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    @property
    def closed(self) -> bool:
        return self.sock.fileno() == -1

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._read)

    def _read(self) -> None:
        for _ in range(READ_BATCH):
            try:
                data, address = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # an ICMP error reported on the socket
                log.debug("UDP receive error: %s", exc)
                return
            self._on_datagram(data, address)

    def sendto(self, data: bytes, address: Address) -> None:
        try:
            self.sock.sendto(data, address)
        except (BlockingIOError, InterruptedError):
            self.send_drops += 1
        except OSError as exc:
            log.debug("UDP send to %s failed: %s", address, exc)

    def close(self) -> None:
        if self.closed:
            return
        if self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())
        self.sock.close()

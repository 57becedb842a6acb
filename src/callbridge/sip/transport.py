"""SIP over UDP and TCP on one address (RFC 3261 §18).

Bytes in, bytes out: each message goes with its :class:`Peer` to ``on_message`` without
being parsed further.  TCP streams are framed and bounded by :mod:`callbridge.sip.tcp`;
responses to a request that arrived over TCP go back on the connection it came from
(§18.2.2), since one connection is kept per remote address and used in both directions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from callbridge.sip.message import Peer
from callbridge.sip.tcp import TcpConnections, TcpLimits
from callbridge.sip.udp import UdpEndpoint

log = logging.getLogger(__name__)

OnMessage = Callable[[bytes, Peer], None]
_PORT_ATTEMPTS = 8
_PEER_CACHE = 4096


class _Peers:
    """One immutable :class:`Peer` per UDP source address rather than one per datagram
    (they live on in transactions for 64*T1); bounded by starting afresh when full."""

    def __init__(self) -> None:
        self._peers: dict[tuple[str | Any, int], Peer] = {}

    def of(self, address: tuple[Any, ...]) -> Peer:
        key = (address[0], address[1])
        peer = self._peers.get(key)
        if peer is None:
            if len(self._peers) >= _PEER_CACHE:
                self._peers.clear()
            peer = Peer(transport="udp", host=str(address[0]), port=int(address[1]))
            self._peers[key] = peer
        return peer


class SipTransport:
    """UDP and TCP listeners on the same host and port (§18); ``tcp_limits`` bound what
    TCP peers may hold."""

    def __init__(self, *, on_message: OnMessage, tcp_limits: TcpLimits | None = None) -> None:
        self._on_message = on_message
        self._tcp_limits = tcp_limits or TcpLimits()
        self._udp: UdpEndpoint | None = None
        self._server: asyncio.Server | None = None
        self._tcp: TcpConnections | None = None
        self._host = ""
        self._port = 0

    @property
    def local_host(self) -> str:
        return self._host

    @property
    def local_port(self) -> int:
        return self._port

    @property
    def tcp_connections(self) -> int:
        """TCP connections open (or being opened) now."""
        return len(self._tcp) if self._tcp is not None else 0

    async def start(self, host: str, port: int) -> None:
        """Bind UDP, then TCP on the same port (retrying ephemeral ports that TCP lacks)."""
        loop = asyncio.get_running_loop()
        peers = _Peers()
        tcp = TcpConnections(limits=self._tcp_limits, on_frame=self._deliver)
        for attempt in range(_PORT_ATTEMPTS):
            udp = UdpEndpoint.bind(
                host, port, on_datagram=lambda data, address: self._deliver(data, peers.of(address))
            )
            try:
                self._server = await loop.create_server(tcp.accepted, host, udp.port)
            except OSError:
                udp.close()
                if port != 0 or attempt == _PORT_ATTEMPTS - 1:
                    await tcp.close()
                    raise
                continue
            udp.start()
            self._udp, self._tcp, self._host, self._port = udp, tcp, host, udp.port
            return

    def send(self, data: bytes, peer: Peer) -> None:
        """Fire and forget; errors are logged (the transaction layer times out instead)."""
        if peer.transport == "udp":
            if self._udp is not None and not self._udp.closed:
                self._udp.sendto(data, (peer.host, peer.port))
        elif self._tcp is not None:
            self._tcp.send(data, (peer.host, peer.port))

    def _deliver(self, data: bytes, peer: Peer) -> None:
        try:
            self._on_message(data, peer)
        except Exception:
            log.exception("on_message failed for a message from %s", peer)

    async def close(self) -> None:
        """Stop listening, drop every connection and cancel pending connects."""
        if self._tcp is not None:
            await self._tcp.close()
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


__all__ = ["OnMessage", "SipTransport"]

"""SIP over UDP and TCP on one address (RFC 3261 §18).

Bytes in, bytes out: this layer frames TCP streams by Content-Length (§18.3) and hands each
message with its :class:`Peer` to ``on_message`` without parsing it further.  One TCP
connection is kept per remote address and used in both directions, so responses to a request
that arrived over TCP go back on the connection it came from (§18.2.2).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

from callbridge.sip.message import MAX_MESSAGE_SIZE, Peer
from callbridge.sip.udp import UdpEndpoint

log = logging.getLogger(__name__)

OnMessage = Callable[[bytes, Peer], None]
_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t\r]*$", re.I | re.M)
_PORT_ATTEMPTS = 8
_PEER_CACHE = 4096


class FramingError(Exception):
    """A TCP stream can no longer be split into messages; the connection must close."""


def next_frame(buffer: bytearray) -> bytes | None:
    """Remove and return the next complete message in ``buffer`` (§18.3), or None.

    CRLFs between messages are keep-alives (RFC 5626 §3.5.1) and are dropped.
    Raises :class:`FramingError` for an oversized message or an unusable Content-Length.
    """
    start = 0
    while start < len(buffer) and buffer[start] in b"\r\n":
        start += 1
    del buffer[:start]
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_MESSAGE_SIZE:
            raise FramingError("header section too large")
        return None
    head_end = end + 4
    lengths = _CONTENT_LENGTH.findall(bytes(buffer[:end]))
    if len(lengths) > 1 or (lengths and not lengths[0].isdigit()):
        raise FramingError("missing or unusable Content-Length")
    total = head_end + (int(lengths[0]) if lengths else 0)
    if total > MAX_MESSAGE_SIZE:
        raise FramingError(f"message of {total} bytes is too large")
    if len(buffer) < total:
        return None
    frame = bytes(buffer[:total])
    del buffer[:total]
    return frame


class _Connection(asyncio.Protocol):
    """One TCP connection: frames what it reads, queues writes until connected."""

    def __init__(self, *, owner: SipTransport, key: tuple[str, int] | None) -> None:
        self._owner = owner
        self._buffer = bytearray()
        self._pending: list[bytes] = []
        self.key = key
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.key is None:  # accepted: known by the remote address
            host, port = transport.get_extra_info("peername")[:2]
            self.key = (host, port)
        self._owner._connection_up(self)
        for data in self._pending:
            transport.write(data)
        self._pending.clear()

    def write(self, data: bytes) -> None:
        if self.transport is None:
            self._pending.append(data)
        elif not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        assert self.key is not None
        peer = Peer(transport="tcp", host=self.key[0], port=self.key[1])
        try:
            while (frame := next_frame(self._buffer)) is not None:
                self._owner._deliver(frame, peer)
        except FramingError as exc:
            log.info("closing TCP connection from %s:%s: %s", *self.key, exc)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner._connection_down(self)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


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
    """UDP and TCP listeners on the same host and port (§18)."""

    def __init__(self, *, on_message: OnMessage) -> None:
        self._on_message = on_message
        self._udp: UdpEndpoint | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[tuple[str, int], _Connection] = {}
        self._connecting: set[asyncio.Task[None]] = set()
        self._host = ""
        self._port = 0

    @property
    def local_host(self) -> str:
        return self._host

    @property
    def local_port(self) -> int:
        return self._port

    async def start(self, host: str, port: int) -> None:
        """Bind UDP, then TCP on the same port (retrying ephemeral ports that TCP lacks)."""
        loop = asyncio.get_running_loop()
        peers = _Peers()
        for attempt in range(_PORT_ATTEMPTS):
            udp = UdpEndpoint.bind(
                host, port, on_datagram=lambda data, address: self._deliver(data, peers.of(address))
            )
            try:
                self._server = await loop.create_server(
                    lambda: _Connection(owner=self, key=None), host, udp.port
                )
            except OSError:
                udp.close()
                if port != 0 or attempt == _PORT_ATTEMPTS - 1:
                    raise
                continue
            udp.start()
            self._udp, self._host, self._port = udp, host, udp.port
            return

    def send(self, data: bytes, peer: Peer) -> None:
        """Fire and forget; errors are logged (the transaction layer times out instead)."""
        if peer.transport == "udp":
            if self._udp is not None and not self._udp.closed:
                self._udp.sendto(data, (peer.host, peer.port))
            return
        key = (peer.host, peer.port)
        connection = self._connections.get(key)
        if connection is None:
            connection = self._connect(key)
        connection.write(data)

    def _connect(self, key: tuple[str, int]) -> _Connection:
        connection = _Connection(owner=self, key=key)
        self._connections[key] = connection
        task = asyncio.get_running_loop().create_task(self._open(connection, key))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)
        return connection

    async def _open(self, connection: _Connection, key: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: connection, key[0], key[1])
        except OSError as exc:
            log.info("TCP connect to %s:%s failed: %s", key[0], key[1], exc)
            self._connection_down(connection)

    def _connection_up(self, connection: _Connection) -> None:
        assert connection.key is not None
        self._connections[connection.key] = connection

    def _connection_down(self, connection: _Connection) -> None:
        if connection.key is not None and self._connections.get(connection.key) is connection:
            del self._connections[connection.key]

    def _deliver(self, data: bytes, peer: Peer) -> None:
        try:
            self._on_message(data, peer)
        except Exception:
            log.exception("on_message failed for a message from %s", peer)

    async def close(self) -> None:
        """Stop listening, drop every connection and cancel pending connects."""
        for task in list(self._connecting):
            task.cancel()
        if self._connecting:
            await asyncio.gather(*self._connecting, return_exceptions=True)
        for connection in list(self._connections.values()):
            connection.close()
        self._connections.clear()
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


__all__ = ["FramingError", "OnMessage", "SipTransport", "next_frame"]

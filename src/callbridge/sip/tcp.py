"""SIP's TCP connections (RFC 3261 §18.3), bounded against peers that abuse them.

One connection is kept per remote address and used in both directions.  What a peer can
make the server hold is bounded: connections in total and per source address, the time a
begun message may take to arrive (``read_seconds``: a slowloris trickling a header is cut
off), the time a connection may stay silent (``idle_seconds``; RFC 5626 pings count), and
the replies it leaves unread.  When the table is full, a new connection takes the place of
one that has not yet delivered a single message (the oldest of the source holding the most
connections), so connections that only trickle cannot lock legitimate clients out.  A
stream that cannot be framed gets 400 or 513 (§18.3, §21.4.1) and is closed.  Whatever
peers cause is logged as one bounded summary line at most every :data:`REPORT_SECONDS`,
never per connection and never with a traceback.

The transports are used through :class:`StreamTransport`: uvloop's are not subclasses of
:class:`asyncio.Transport`, though they behave as one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from callbridge.sip.framing import PONG, FramingError, Keepalive, StreamFramer
from callbridge.sip.message import Peer, SipParseError, response_to_malformed

log = logging.getLogger(__name__)

Address = tuple[str, int]
OnFrame = Callable[[bytes, Peer], None]
REPORT_SECONDS = 10.0
CONNECT_SECONDS = 10.0
MAX_UNSENT_BYTES = 1024 * 1024  # replies a peer leaves unread before it is dropped
_SWEEP_SECONDS = 1.0


@dataclass(frozen=True, kw_only=True)
class TcpLimits:
    max_connections: int = 1024
    max_per_source: int = 32
    idle_seconds: float = 300.0
    read_seconds: float = 10.0


class StreamTransport(Protocol):
    """What a connection needs of its transport (asyncio's and uvloop's both qualify)."""

    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...
    def is_closing(self) -> bool: ...
    def get_extra_info(self, name: str, default: Any = None) -> Any: ...
    def get_write_buffer_size(self) -> int: ...


class TcpConnection(asyncio.Protocol):
    """One connection: frames what it reads, answers pings, queues writes until connected."""

    def __init__(self, *, table: TcpConnections, key: Address | None) -> None:
        self._table = table
        self._framer = StreamFramer()
        self._pending: list[bytes] = []
        self.key = key
        self.inbound = key is None
        self.transport: StreamTransport | None = None
        self.peer: Peer | None = None
        self.opened = self.last_active = table.now()
        self.partial_since: float | None = None
        self.delivered = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(StreamTransport, transport)
        if self.key is None:  # accepted: known by the remote address
            host, port = stream.get_extra_info("peername")[:2]
            self.key = (str(host), int(port))
        self.transport = stream
        self.peer = Peer(transport="tcp", host=self.key[0], port=self.key[1])
        self.opened = self.last_active = self._table.now()
        if not self._table.admit(self):
            self.transport = None
            stream.close()
            return
        for data in self._pending:
            self.write(data)
        self._pending.clear()

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None:
            self._pending.append(data)
        elif not transport.is_closing():
            transport.write(data)
            self.last_active = self._table.now()
            if transport.get_write_buffer_size() > MAX_UNSENT_BYTES:
                self.close("replies left unread")

    def data_received(self, data: bytes) -> None:
        if self.transport is None or self.peer is None:
            return
        self._framer.feed(data)
        try:
            while (frame := self._framer.next()) is not None:
                self.last_active = self._table.now()
                self.partial_since = None  # the next message's time starts now
                if frame is Keepalive.PING:
                    self.transport.write(PONG)
                else:
                    self.delivered += 1
                    self._table.deliver(frame, self.peer)
                if self.transport.is_closing():
                    return
        except FramingError as exc:
            self._refuse_stream(exc)
            return
        if self._framer.partial and self.partial_since is None:
            self.partial_since = self._table.now()

    def _refuse_stream(self, exc: FramingError) -> None:
        reply = response_to_malformed(exc.head, SipParseError(str(exc), status=exc.status))
        if reply is not None and self.transport is not None:
            self.transport.write(bytes(reply))
        self.close(f"framing error ({exc.status})")

    def connection_lost(self, exc: Exception | None) -> None:
        self._table.lost(self)

    def close(self, reason: str | None = None) -> None:
        """Close after what is written has been sent; ``reason`` is counted in the report."""
        if self.transport is not None and not self.transport.is_closing():
            if reason is not None:
                self._table.report.count(reason, self.key)
            self.transport.close()


class PeerReport:
    """Counts of what peers caused (refusals, timeouts, framing errors), logged as one
    summary line at most every :data:`REPORT_SECONDS`."""

    def __init__(self, *, now: Callable[[], float]) -> None:
        self._now = now
        self._counts: Counter[str] = Counter()
        self._last_source: Address | None = None
        self._logged_at = -REPORT_SECONDS

    def count(self, reason: str, source: Address | None) -> None:
        self._counts[reason] += 1
        self._last_source = source
        self.tick()

    def tick(self) -> None:
        """Log what is counted once the last line is old enough."""
        if self._now() - self._logged_at >= REPORT_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self._counts:
            return
        summary = ", ".join(f"{n} {reason}" for reason, n in sorted(self._counts.items()))
        source = "{}:{}".format(*self._last_source) if self._last_source else "?"
        log.warning("SIP/TCP connections closed: %s (last from %s)", summary, source)
        self._counts.clear()
        self._logged_at = self._now()


class TcpConnections:
    """The table of open connections, their limits and their timers."""

    def __init__(self, *, limits: TcpLimits, on_frame: OnFrame) -> None:
        self.limits = limits
        self._on_frame = on_frame
        self._loop = asyncio.get_running_loop()
        self._open: dict[Address, TcpConnection] = {}
        self._per_source: Counter[str] = Counter()
        self._connecting: set[asyncio.Task[None]] = set()
        self.report = PeerReport(now=self.now)
        interval = min(_SWEEP_SECONDS, limits.read_seconds / 2, limits.idle_seconds / 2)
        self._interval = max(interval, 0.05)
        self._sweeper: asyncio.TimerHandle | None = self._loop.call_later(
            self._interval, self._sweep
        )

    def now(self) -> float:
        return self._loop.time()

    def __len__(self) -> int:
        return len(self._open)

    def accepted(self) -> TcpConnection:
        """The protocol of a connection the server accepts."""
        return TcpConnection(table=self, key=None)

    def send(self, data: bytes, address: Address) -> None:
        connection = self._open.get(address)
        if connection is None:
            connection = TcpConnection(table=self, key=address)
            self._open[address] = connection
            task = self._loop.create_task(self._connect(connection, address))
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)
        connection.write(data)

    async def _connect(self, connection: TcpConnection, address: Address) -> None:
        try:
            async with asyncio.timeout(CONNECT_SECONDS):
                await self._loop.create_connection(lambda: connection, address[0], address[1])
        except (OSError, TimeoutError) as exc:
            log.info("TCP connect to %s:%s failed: %s", address[0], address[1], exc)
            self.lost(connection)

    def admit(self, connection: TcpConnection) -> bool:
        """Enter a connection that is up; an accepted one only within the limits."""
        assert connection.key is not None
        if connection.inbound:
            source = connection.key[0]
            if self._per_source[source] >= self.limits.max_per_source:
                self.report.count("over the per-source limit", connection.key)
                return False
            if len(self._open) >= self.limits.max_connections and not self._evict_one():
                self.report.count("over the connection limit", connection.key)
                return False
            self._per_source[source] += 1
        self._open[connection.key] = connection
        return True

    def _evict_one(self) -> bool:
        """Close an accepted connection that has delivered no message yet: the oldest of
        the source holding the most connections, so a flood that reconnects as fast as it
        is evicted takes its own places, not a lone client's that has just connected."""
        idle = [c for c in self._open.values() if c.inbound and c.delivered == 0]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: (-self._per_source[c.key[0] if c.key else ""], c.opened))
        self._forget(oldest)
        oldest.close("evicted before a first message")
        return True

    def deliver(self, frame: bytes, peer: Peer) -> None:
        self._on_frame(frame, peer)

    def lost(self, connection: TcpConnection) -> None:
        if connection.key is not None and self._open.get(connection.key) is connection:
            self._forget(connection)

    def _forget(self, connection: TcpConnection) -> None:
        assert connection.key is not None
        del self._open[connection.key]
        if connection.inbound:
            source = connection.key[0]
            self._per_source[source] -= 1
            if self._per_source[source] <= 0:
                del self._per_source[source]

    def _sweep(self) -> None:
        now = self.now()
        limits = self.limits
        for connection in list(self._open.values()):
            if connection.transport is None:
                continue  # still connecting
            since = connection.partial_since
            if since is not None and now - since > limits.read_seconds:
                connection.close("message not complete in time")
            elif now - connection.last_active > limits.idle_seconds:
                log.debug("closing idle TCP connection with %s", connection.peer)
                connection.close()
        self.report.tick()
        self._sweeper = self._loop.call_later(self._interval, self._sweep)

    async def close(self) -> None:
        """Cancel pending connects, stop the timers and drop every connection."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for task in list(self._connecting):
            task.cancel()
        if self._connecting:
            await asyncio.gather(*self._connecting, return_exceptions=True)
        for connection in list(self._open.values()):
            connection.close()
        self._open.clear()
        self._per_source.clear()
        self.report.flush()


__all__ = ["StreamTransport", "TcpConnection", "TcpConnections", "TcpLimits"]

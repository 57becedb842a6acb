"""What both kinds of SIP transaction share (RFC 3261 §17): the §17 timer values, the
owner a transaction reports to (:class:`~callbridge.sip.transaction.TransactionLayer`), and
the state and timer handles of one transaction."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiosipua import SipRequest

from callbridge.sip.counts import SipCounts
from callbridge.sip.message import Peer

TxKey = tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Timers:
    """§17 timer values; tests shrink them.  ``d`` is Timer D (> 32 s over UDP, §17.1.1.2);
    ``c`` is Timer C (> 3 min, §16.6 step 11), which bounds how long an INVITE server
    transaction waits for our final response after its last provisional one."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    d: float = 32.0
    c: float = 181.0

    @property
    def timeout(self) -> float:
        """Timers B, F, H, J and L: 64*T1."""
        return 64 * self.t1


class TransactionOwner(Protocol):
    """What a transaction needs from its layer."""

    @property
    def timers(self) -> Timers: ...

    @property
    def timer_context(self) -> contextvars.Context:
        """The context every timer callback runs in."""
        ...

    @property
    def counts(self) -> SipCounts:
        """Requests received and responses sent (``/metrics``)."""
        ...

    def transmit(self, data: bytes, peer: Peer) -> None:
        """Send bytes (a failure is logged, not raised)."""
        ...

    def answered(self, tx: Transaction) -> None:
        """A server transaction left Trying/Proceeding."""
        ...

    def forget(self, tx: Transaction) -> None:
        """A terminated transaction: drop it from the tables."""
        ...


class Transaction:
    """State and timers shared by both kinds; a terminated transaction forgets itself.

    Slotted: a busy server holds tens of thousands of them (64*T1 each after the final
    response), and every object they keep alive is scanned by each full GC pass.
    """

    __slots__ = ("_interval", "_invite", "_layer", "_reliable", "_timers", "key", "peer", "state")

    def __init__(self, *, layer: TransactionOwner, request: SipRequest, peer: Peer, key: TxKey):
        self.peer = peer
        self.key = key
        self.state = "initial"
        self._layer = layer
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._invite = request.method == "INVITE"
        self._reliable = peer.transport != "udp"  # no retransmissions, zero wait timers
        self._interval = layer.timers.t1

    def _arm(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        self._disarm(name)
        loop = asyncio.get_running_loop()
        self._timers[name] = loop.call_later(delay, callback, context=self._layer.timer_context)

    def _disarm(self, *names: str) -> None:
        for name in names:
            if (handle := self._timers.pop(name, None)) is not None:
                handle.cancel()

    def terminate(self) -> None:
        self._disarm(*list(self._timers))
        self.state = "terminated"
        self._layer.forget(self)

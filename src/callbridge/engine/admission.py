"""Which new SIP requests the engine serves, and which it sheds (RFC 3261 §21.5.4).

Asked by the transaction layer for each new request before a transaction is made for it:

- an in-dialog request of a live call is served first, whatever the load (a BYE must end
  its call even when the transaction table is full);
- other requests count against their source's rate limit (:mod:`callbridge.sip.pike`);
  over it they are answered 503 once a window and dropped after that; a trunk's requests
  count against the trunk's own limit instead, if it has one
  (:mod:`callbridge.engine.trunk_limits`);
- OPTIONS (a cheap, synchronous answer that monitors rely on) is served first as well;
- while the event loop runs more than ``max_lag`` late, every other new request gets a
  stateless 503 with Retry-After, so the calls already up keep their loop.

:meth:`RequestGate.screen` sees datagrams before they are parsed: a request from a source
whose requests are being dropped is dropped unparsed (parsing an INVITE takes about 0.1 ms:
a third of a core at 3000 a second), unless it is a response or names a To tag (it may
belong to a live call: it is parsed and goes through the gate).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Protocol

from aiosipua import SipRequest

from callbridge.engine.routing import Trunk
from callbridge.engine.trunk_limits import TrunkRequestLimits
from callbridge.sip.message import Peer
from callbridge.sip.pike import Pike, PikeVerdict
from callbridge.sip.transaction import Admit

log = logging.getLogger(__name__)

_TO_TAG = re.compile(rb"^(?:to|t)[ \t]*:[^\r\n]*;[ \t]*tag[ \t]*=", re.I | re.M)


class LagReading(Protocol):
    """How late the event loop runs, in seconds (``callbridge.calls.overload.LoopLag``)."""

    @property
    def lag(self) -> float: ...


class RequestGate:
    """The transaction layer's gate (:data:`callbridge.sip.transaction.Gate`)."""

    def __init__(
        self,
        *,
        in_live_dialog: Callable[[SipRequest], bool],
        pike: Pike | None = None,
        trunk_of: Callable[[str], Trunk | None] | None = None,
        trunk_limits: TrunkRequestLimits | None = None,
        lag: LagReading | None = None,
        max_lag: float | None = None,
    ) -> None:
        """``trunk_of``: the trunk a source address belongs to, if any (its requests count
        against ``trunk_limits``, not ``pike``)."""
        self._in_live_dialog = in_live_dialog
        self.pike = pike
        self._trunk_of = trunk_of
        self._trunk_limits = trunk_limits or TrunkRequestLimits()
        self._lag = lag if max_lag is not None else None
        self._max_lag = max_lag or 0.0
        self._shedding = False

    def __call__(self, request: SipRequest, peer: Peer) -> Admit:
        if self._in_live_dialog(request):
            return Admit.FIRST
        trunk = self._trunk_of(peer.host) if self._trunk_of is not None else None
        if trunk is not None:
            if not self._trunk_limits.allow(trunk):
                return Admit.BUSY
        elif self.pike is not None:
            verdict = self.pike.hit(peer.host)
            if verdict is PikeVerdict.REFUSE:
                return Admit.BUSY
            if verdict is PikeVerdict.DROP:
                return Admit.DROP
        if request.method == "OPTIONS":
            return Admit.FIRST
        if self._late():
            return Admit.BUSY
        return Admit.SERVE

    def screen(self, data: bytes, peer: Peer) -> bool:
        """False: drop this datagram unparsed (see the module's doc)."""
        if self.pike is None or data.startswith(b"SIP/2.0 ") or _TO_TAG.search(data):
            return True
        return not self.pike.dropping(peer.host)

    def _late(self) -> bool:
        if self._lag is None:
            return False
        lag = self._lag.lag
        late = lag > self._max_lag
        if late and not self._shedding:
            log.warning("event loop %.0f ms late: new SIP requests get 503", lag * 1000)
        elif self._shedding and not late:
            log.warning("event loop on time again: SIP requests served")
        self._shedding = late
        return late

"""The server transactions of RFC 3261: §17.2.1 (INVITE, with RFC 6026's Accepted state)
and §17.2.2 (non-INVITE)."""

from __future__ import annotations

import asyncio
import logging

from aiosipua import SipRequest, SipResponse

from callbridge.sip.message import Peer, build_response
from callbridge.sip.transaction_base import Transaction, TransactionOwner, TxKey

log = logging.getLogger(__name__)


class ServerTransaction(Transaction):
    """§17.2.1 (INVITE) and §17.2.2 (non-INVITE) server transactions.

    It keeps only what absorbing retransmissions needs (state, last response bytes, peer),
    and the request until it is answered.

    It never outlives the RFC 3261 timers, even when the TU never answers (a bug): an INVITE
    unanswered for Timer C after its last provisional response, or a non-INVITE for 64*T1
    (when the client's Timer F has given up), is answered 408 by the transaction itself.
    """

    __slots__ = ("_cancelled", "_last", "_request")

    def __init__(self, *, layer: TransactionOwner, request: SipRequest, peer: Peer, key: TxKey):
        super().__init__(layer=layer, request=request, peer=peer, key=key)
        self._cancelled: asyncio.Event | None = None
        self._last: bytes | None = None
        self._request: SipRequest | None = request
        self.state = "proceeding" if self._invite else "trying"
        self._arm_unanswered()

    def _arm_unanswered(self) -> None:
        timers = self._layer.timers
        self._arm("C", timers.c if self._invite else timers.timeout, self._unanswered)

    def _unanswered(self) -> None:
        """Timer C (INVITE) or F (non-INVITE) with no final response from the TU: 408."""
        request = self._request
        log.warning("no final response to %s in time: 408 to %s", self.key[-1], self.peer)
        if request is None:
            self.terminate()
            return
        try:
            self.respond(build_response(request, 408))
        except ValueError:
            self.terminate()

    @property
    def cancelled(self) -> asyncio.Event:
        """Set when a CANCEL arrives before the final response (§9.2); made on first use."""
        if self._cancelled is None:
            self._cancelled = asyncio.Event()
        return self._cancelled

    @property
    def pending(self) -> bool:
        """Still waiting for the TU's final response."""
        return self.state in ("trying", "proceeding")

    def respond(self, response: SipResponse) -> None:
        """Send a response from the TU; a final one moves to Completed (or Accepted for 2xx)."""
        status = response.status_code
        if self.state == "accepted" and 200 <= status < 300:
            self._layer.transmit(bytes(response), self.peer)  # RFC 6026 §8.7
            return
        if not self.pending:
            log.debug("dropping %s: transaction %s is %s", status, self.key, self.state)
            return
        self._last = bytes(response)
        self._layer.counts.response(status)
        self._layer.transmit(self._last, self.peer)
        if status < 200:
            self.state = "proceeding"
            if self._invite and status > 100:
                self._arm_unanswered()  # Timer C restarts with each provisional (§16.7)
            return
        self._disarm("C")
        self._request = None
        self._layer.answered(self)
        if self._invite:
            self._invite_final(status)
        else:
            self.state = "completed"
            self._arm("J", 0 if self._reliable else self._layer.timers.timeout, self.terminate)

    def _invite_final(self, status: int) -> None:
        timers = self._layer.timers
        if status < 300:
            self.state = "accepted"  # RFC 6026 §7.1: absorb INVITE retransmissions (Timer L)
            self._last = None  # the TU retransmits its 2xx itself (§13.3.1.4)
            self._arm("L", timers.timeout, self.terminate)
            return
        self.state = "completed"
        if not self._reliable:
            self._arm("G", self._interval, self._retransmit)
        self._arm("H", timers.timeout, self.terminate)

    def _retransmit(self) -> None:
        """Timer G: resend the non-2xx final, doubling up to T2 (§17.2.1)."""
        if self._last is not None:
            self._layer.transmit(self._last, self.peer)
        self._interval = min(self._interval * 2, self._layer.timers.t2)
        self._arm("G", self._interval, self._retransmit)

    def absorb(self, request: SipRequest) -> bool:
        """A request matching this transaction: True when handled here, False for the TU."""
        if request.method != "ACK":
            if self._last is not None and self.state != "accepted":
                self._layer.transmit(self._last, self.peer)
            return True
        if self.state == "completed":
            self.state = "confirmed"
            self._disarm("G", "H")
            self._arm("I", 0 if self._reliable else self._layer.timers.t4, self.terminate)
            return True
        return self.state == "confirmed"

    def cancel_received(self) -> None:
        """§9.2: the TU answers 487 unless a final response has gone out already."""
        if self._invite and self.state == "proceeding":
            self.cancelled.set()

    def terminate(self) -> None:
        if self.pending:
            self._layer.answered(self)
        self._request = None
        super().terminate()

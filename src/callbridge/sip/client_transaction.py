"""The client transactions of RFC 3261: §17.1.1 (INVITE) and §17.1.2 (non-INVITE)."""

from __future__ import annotations

import asyncio
from collections import deque

from aiosipua import SipRequest, SipResponse

from callbridge.sip.message import Peer, build_ack, build_cancel, build_response
from callbridge.sip.transaction_base import Transaction, TransactionOwner, TxKey


class ClientTransaction(Transaction):
    """§17.1.1 (INVITE) and §17.1.2 (non-INVITE) client transactions."""

    __slots__ = ("_ack", "_responses", "_waiter", "_wire", "final", "request")

    def __init__(self, *, layer: TransactionOwner, request: SipRequest, peer: Peer, key: TxKey):
        super().__init__(layer=layer, request=request, peer=peer, key=key)
        self.request = request
        self.final: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()
        self._responses: deque[SipResponse] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._wire = bytes(request)
        self._ack: bytes | None = None

    def start(self) -> None:
        """Calling / Trying: send, arm Timer A/E (UDP only) and Timer B/F."""
        self.state = "calling" if self._invite else "trying"
        self._layer.transmit(self._wire, self.peer)
        if not self._reliable:
            self._arm("retransmit", self._interval, self._retransmit)
        self._arm("timeout", self._layer.timers.timeout, lambda: self._give_up(408))

    async def next_response(self) -> SipResponse:
        """The next provisional or final response, in arrival order; the final one repeats."""
        while not self._responses:
            if self.final.done():
                return self.final.result()
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._responses.popleft()

    def cancel_request(self) -> SipRequest:
        """§9.1: a CANCEL for this INVITE; if no final arrives within 64*T1 we give up (487)."""
        if not self.final.done():
            self._arm("cancel", self._layer.timers.timeout, lambda: self._give_up(487))
        return build_cancel(self.request)

    def _retransmit(self) -> None:
        """Timer A doubles (§17.1.1.2); Timer E doubles up to T2 (§17.1.2.2)."""
        self._layer.transmit(self._wire, self.peer)
        timers = self._layer.timers
        self._interval = self._interval * 2 if self._invite else min(self._interval * 2, timers.t2)
        self._arm("retransmit", self._interval, self._retransmit)

    def _give_up(self, status: int) -> None:
        if not self.final.done():
            self._deliver(build_response(self.request, status))
        self.terminate()

    def on_response(self, response: SipResponse) -> None:
        if self.final.done():
            if self._ack is not None and response.status_code >= 300:
                self._layer.transmit(self._ack, self.peer)  # §17.1.1.2: retransmitted final
            return
        if response.status_code < 200:
            self._on_provisional(response)
        elif self._invite:
            self._on_invite_final(response)
        else:
            self._deliver(response)
            self.state = "completed"
            self._disarm("retransmit", "timeout")
            self._arm("K", 0 if self._reliable else self._layer.timers.t4, self.terminate)

    def _on_provisional(self, response: SipResponse) -> None:
        self.state = "proceeding"
        if self._invite:
            self._disarm("retransmit", "timeout")
        elif not self._reliable:
            self._interval = self._layer.timers.t2  # §17.1.2.2: Proceeding retransmits at T2
        self._deliver(response)

    def _on_invite_final(self, response: SipResponse) -> None:
        self._deliver(response)
        if response.status_code < 300:
            self.terminate()  # the TU ACKs 2xx itself (§13.2.2.4)
            return
        self._ack = bytes(build_ack(self.request, response))
        self._layer.transmit(self._ack, self.peer)
        self.state = "completed"
        self._disarm("retransmit", "timeout", "cancel")
        self._arm("D", 0 if self._reliable else self._layer.timers.d, self.terminate)

    def _deliver(self, response: SipResponse) -> None:
        self._responses.append(response)
        if response.status_code >= 200 and not self.final.done():
            self.final.set_result(response)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def abort(self) -> None:
        """Layer closing: wake and cancel anyone waiting on this transaction."""
        self.final.cancel()
        if self._waiter is not None:
            self._waiter.cancel()
        self.terminate()

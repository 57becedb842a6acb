"""The SIP transaction layer (RFC 3261 §17, with RFC 6026's Accepted state for INVITE servers).

Clients retransmit over UDP and time out into a synthesized 408; servers absorb retransmitted
requests and resend the last response.  Every timer is a ``loop.call_later`` handle owned by
its transaction, and :meth:`TransactionLayer.close` cancels them all (no task is ever spawned).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiosipua import SipRequest, SipResponse
from aiosipua.header_codec import parse_via

from callbridge.sip.message import (
    Peer,
    SipParseError,
    build_ack,
    build_cancel,
    build_response,
    ensure_branch,
    parse_message,
    record_source,
    response_to_malformed,
)

log = logging.getLogger(__name__)

MAGIC_COOKIE = "z9hG4bK"
TxKey = tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Timers:
    """§17 timer values; tests shrink them.  ``d`` is Timer D (> 32 s over UDP, §17.1.1.2)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    d: float = 32.0

    @property
    def timeout(self) -> float:
        """Timers B, F, H, J and L: 64*T1."""
        return 64 * self.t1


class MessageSender(Protocol):
    """What the layer needs from a transport (:class:`~callbridge.sip.transport.SipTransport`)."""

    @property
    def local_host(self) -> str: ...

    @property
    def local_port(self) -> int: ...

    def send(self, data: bytes, peer: Peer) -> None: ...


class _Transaction:
    """State and timers shared by both kinds; a terminated transaction forgets itself.

    Slotted: a busy server holds tens of thousands of them (64*T1 each after the final
    response), and every object they keep alive is scanned by each full GC pass.
    """

    __slots__ = ("_interval", "_invite", "_layer", "_reliable", "_timers", "key", "peer", "state")

    def __init__(self, *, layer: TransactionLayer, request: SipRequest, peer: Peer, key: TxKey):
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
        self._timers[name] = loop.call_later(delay, callback, context=self._layer._context)

    def _disarm(self, *names: str) -> None:
        for name in names:
            if (handle := self._timers.pop(name, None)) is not None:
                handle.cancel()

    def terminate(self) -> None:
        self._disarm(*list(self._timers))
        self.state = "terminated"
        self._layer._forget(self)


class ClientTransaction(_Transaction):
    """§17.1.1 (INVITE) and §17.1.2 (non-INVITE) client transactions."""

    __slots__ = ("_ack", "_responses", "_waiter", "_wire", "final", "request")

    def __init__(self, *, layer: TransactionLayer, request: SipRequest, peer: Peer, key: TxKey):
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
        self._layer._send(self._wire, self.peer)
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
        self._layer._send(self._wire, self.peer)
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
                self._layer._send(self._ack, self.peer)  # §17.1.1.2: retransmitted final
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
        self._layer._send(self._ack, self.peer)
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


class ServerTransaction(_Transaction):
    """§17.2.1 (INVITE) and §17.2.2 (non-INVITE) server transactions.

    It keeps only what absorbing retransmissions needs (state, last response bytes, peer):
    the request stays with the TU, which is handed it alongside the transaction.
    """

    __slots__ = ("_cancelled", "_last")

    def __init__(self, *, layer: TransactionLayer, request: SipRequest, peer: Peer, key: TxKey):
        super().__init__(layer=layer, request=request, peer=peer, key=key)
        self._cancelled: asyncio.Event | None = None
        self._last: bytes | None = None
        self.state = "proceeding" if self._invite else "trying"

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
            self._layer._send(bytes(response), self.peer)  # RFC 6026 §8.7
            return
        if not self.pending:
            log.debug("dropping %s: transaction %s is %s", status, self.key, self.state)
            return
        self._last = bytes(response)
        self._layer._send(self._last, self.peer)
        if status < 200:
            self.state = "proceeding"
            return
        self._layer._answered(self)
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
            self._layer._send(self._last, self.peer)
        self._interval = min(self._interval * 2, self._layer.timers.t2)
        self._arm("G", self._interval, self._retransmit)

    def absorb(self, request: SipRequest) -> bool:
        """A request matching this transaction: True when handled here, False for the TU."""
        if request.method != "ACK":
            if self._last is not None and self.state != "accepted":
                self._layer._send(self._last, self.peer)
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
            self._layer._answered(self)
        super().terminate()


OnRequest = Callable[[SipRequest, ServerTransaction | None, Peer], None]
OnResponse = Callable[[SipResponse, Peer], None]


class TransactionLayer:
    """Matches messages to transactions (§17.1.3, §17.2.3) and creates new ones."""

    def __init__(
        self,
        *,
        transport: MessageSender,
        timers: Timers | None = None,
        on_request: OnRequest,
        on_unmatched_response: OnResponse,
        max_server_transactions: int = 2000,
        retry_after: int = 5,
    ) -> None:
        self.timers = timers or Timers()
        self._transport = transport
        self._on_request = on_request
        self._on_unmatched_response = on_unmatched_response
        self._max_server = max_server_transactions
        self._retry_after = retry_after
        self._clients: dict[TxKey, ClientTransaction] = {}
        self._servers: dict[TxKey, ServerTransaction] = {}
        self._pending_servers = 0
        # Timer callbacks use no context variables: one shared context instead of a copy
        # per timer (tens of thousands of timers are pending on a busy server).
        self._context = contextvars.copy_context()

    @property
    def server_count(self) -> int:
        """Server transactions held, including those only absorbing retransmissions."""
        return len(self._servers)

    @property
    def pending_server_count(self) -> int:
        """Server transactions still waiting for the TU's final response."""
        return self._pending_servers

    def send_request(self, request: SipRequest, peer: Peer) -> ClientTransaction:
        """Start a client transaction; adds a top Via (branch, rport) when missing."""
        if request.method == "ACK":
            raise ValueError("ACK is sent outside transactions (§17.1.1.3, §13.2.2.4)")
        sent_by = f"{self._transport.local_host}:{self._transport.local_port}"
        branch = ensure_branch(request, transport=peer.transport, sent_by=sent_by)
        key: TxKey = (branch, request.method)
        tx = ClientTransaction(layer=self, request=request, peer=peer, key=key)
        self._clients[key] = tx
        tx.start()
        return tx

    def _send(self, data: bytes, peer: Peer) -> None:
        try:
            self._transport.send(data, peer)
        except (OSError, RuntimeError) as exc:
            log.info("send to %s failed: %s", peer, exc)

    def receive(self, data: bytes, peer: Peer) -> None:
        """Entry point for the transport; never raises."""
        try:
            message = parse_message(data)
        except SipParseError as exc:  # §21.4.1: answer 400 (505, 513) when addressable
            log.debug("malformed message from %s: %s", peer, exc)
            if (response := response_to_malformed(data, exc)) is not None:
                self._send(bytes(response), peer)
            return
        try:
            if isinstance(message, SipResponse):
                self._receive_response(message, peer)
            else:
                self._receive_request(message, peer)
        except Exception:
            log.exception("failed to handle a message from %s", peer)

    def _receive_response(self, response: SipResponse, peer: Peer) -> None:
        """§17.1.3: top Via branch and CSeq method."""
        branch = parse_via(response.get_header_values("via")[0]).branch or ""
        cseq = response.cseq
        tx = self._clients.get((branch, cseq.method if cseq else ""))
        if tx is None:
            self._on_unmatched_response(response, peer)
        else:
            tx.on_response(response)

    def _receive_request(self, request: SipRequest, peer: Peer) -> None:
        record_source(request, peer)
        key = _server_key(request)
        tx = self._servers.get(key)
        if tx is not None and tx.absorb(request):
            return
        if request.method == "ACK":
            self._on_request(request, None, peer)
        elif request.method == "CANCEL":
            self._cancel(request, peer, key)
        elif self._pending_servers >= self._max_server:
            self._overloaded(request, peer)
        else:
            tx = self._new_server(request, peer, key)
            if request.method == "INVITE":
                tx.respond(build_response(request, 100))  # §17.2.1: at once, we are a UA
            try:
                self._on_request(request, tx, peer)
            except Exception:  # a TU bug must not leave the transaction open forever
                log.exception("on_request failed for %s from %s", request.method, peer)
                tx.respond(build_response(request, 500))

    def _new_server(self, request: SipRequest, peer: Peer, key: TxKey) -> ServerTransaction:
        tx = ServerTransaction(layer=self, request=request, peer=peer, key=key)
        self._servers[key] = tx
        self._pending_servers += 1
        return tx

    def _answered(self, tx: ServerTransaction) -> None:
        """``tx`` leaves Trying/Proceeding (final response sent, or terminated unanswered)."""
        self._pending_servers -= 1

    def _cancel(self, request: SipRequest, peer: Peer, key: TxKey) -> None:
        """§9.2: 200 when the CANCEL matches an INVITE server transaction, else 481."""
        invite = self._servers.get((*key[:-1], "INVITE"))
        tx = self._new_server(request, peer, key)
        tx.respond(build_response(request, 481 if invite is None else 200))
        if invite is not None:
            invite.cancel_received()

    def _overloaded(self, request: SipRequest, peer: Peer) -> None:
        """RFC 3261 §21.5.4: shed load statelessly instead of queueing.

        The limit counts requests the TU has not answered yet: a transaction that has sent
        its final response only absorbs retransmissions for 64*T1 and costs no work, so
        counting those would cap a server at max/(2*64*T1) calls per second (INVITE and BYE
        both linger), about 31 calls/s for the default 2000.
        """
        log.warning("overloaded (%d requests in progress): 503 to %s", self._pending_servers, peer)
        busy = build_response(request, 503, headers={"Retry-After": str(self._retry_after)})
        self._send(bytes(busy), peer)

    def _forget(self, tx: _Transaction) -> None:
        table: dict[TxKey, ClientTransaction] | dict[TxKey, ServerTransaction]
        table = self._clients if isinstance(tx, ClientTransaction) else self._servers
        if table.get(tx.key) is tx:
            del table[tx.key]

    async def close(self) -> None:
        """Cancel every timer and wake every waiter (with CancelledError)."""
        for client in list(self._clients.values()):
            client.abort()
        for server in list(self._servers.values()):
            server.terminate()


def _server_key(request: SipRequest) -> TxKey:
    """§17.2.3: branch + sent-by + method (ACK matches INVITE); RFC 2543 peers fall back."""
    via = parse_via(request.get_header_values("via")[0])
    sent_by = f"{via.host.lower()}:{via.port or 5060}"
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch or ""
    if branch.startswith(MAGIC_COOKIE):
        return (branch, sent_by, method)
    from_tag = (request.from_addr.tag if request.from_addr else None) or ""
    cseq = request.cseq
    number = str(cseq.seq) if cseq else ""
    return ("2543", request.call_id or "", from_tag, number, sent_by, branch, method)


__all__ = ["ClientTransaction", "MessageSender", "ServerTransaction", "Timers", "TransactionLayer"]

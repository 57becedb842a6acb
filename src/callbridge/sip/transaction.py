"""The SIP transaction layer (RFC 3261 §17, with RFC 6026's Accepted state for INVITE servers).

Clients retransmit over UDP and time out into a synthesized 408; servers absorb retransmitted
requests and resend the last response.  Every timer is a ``loop.call_later`` handle owned by
its transaction, and :meth:`TransactionLayer.close` cancels them all (no task is ever spawned).

The layer is here; the transactions are in :mod:`.client_transaction` and
:mod:`.server_transaction`, on the shared base of :mod:`.transaction_base`.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from enum import Enum
from typing import Protocol

from aiosipua import SipRequest, SipResponse
from aiosipua.header_codec import parse_via

from callbridge.sip.client_transaction import ClientTransaction
from callbridge.sip.counts import SipCounts
from callbridge.sip.message import (
    Peer,
    SipParseError,
    build_response,
    ensure_branch,
    parse_message,
    record_source,
    response_to_malformed,
)
from callbridge.sip.server_transaction import ServerTransaction
from callbridge.sip.transaction_base import Timers, Transaction, TxKey

log = logging.getLogger(__name__)

MAGIC_COOKIE = "z9hG4bK"


class MessageSender(Protocol):
    """What the layer needs from a transport (:class:`~callbridge.sip.transport.SipTransport`)."""

    @property
    def local_host(self) -> str: ...

    @property
    def local_port(self) -> int: ...

    def send(self, data: bytes, peer: Peer) -> None: ...


OnRequest = Callable[[SipRequest, ServerTransaction | None, Peer], None]
OnResponse = Callable[[SipResponse, Peer], None]


class Admit(Enum):
    """What the TU's gate says of a new request (not a retransmission, ACK or CANCEL)."""

    SERVE = "serve"  # within the transaction limit
    FIRST = "first"  # served even when the transaction table is full (live dialogs, OPTIONS)
    BUSY = "busy"  # 503 with Retry-After, statelessly
    DROP = "drop"  # not answered at all


Gate = Callable[[SipRequest, Peer], Admit]


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
        gate: Gate | None = None,
    ) -> None:
        self.timers = timers or Timers()
        self._transport = transport
        self._on_request = on_request
        self._on_unmatched_response = on_unmatched_response
        self._max_server = max_server_transactions
        self._retry_after = retry_after
        self._gate = gate
        self._clients: dict[TxKey, ClientTransaction] = {}
        self._servers: dict[TxKey, ServerTransaction] = {}
        self._pending_servers = 0
        # Timer callbacks use no context variables: one shared context instead of a copy
        # per timer (tens of thousands of timers are pending on a busy server).
        self.timer_context = contextvars.copy_context()
        self.counts = SipCounts()  # read by /metrics

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

    def transmit(self, data: bytes, peer: Peer) -> None:
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
                self.counts.response(response.status_code)
                self.transmit(bytes(response), peer)
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
        self.counts.request(request.method)
        record_source(request, peer)
        key = _server_key(request)
        tx = self._servers.get(key)
        if tx is not None and tx.absorb(request):
            return
        if request.method == "ACK":
            self._on_request(request, None, peer)
        elif request.method == "CANCEL":
            self._cancel(request, peer, key)
        elif not self._admitted(request, peer):
            return
        else:
            tx = self._new_server(request, peer, key)
            if request.method == "INVITE":
                tx.respond(build_response(request, 100))  # §17.2.1: at once, we are a UA
            try:
                self._on_request(request, tx, peer)
            except Exception:  # a TU bug must not leave the transaction open forever
                log.exception("on_request failed for %s from %s", request.method, peer)
                tx.respond(build_response(request, 500))

    def _admitted(self, request: SipRequest, peer: Peer) -> bool:
        """The gate first (load shedding, live dialogs first), then the table's limit;
        a request refused here is answered 503 or dropped, statelessly."""
        admit = self._gate(request, peer) if self._gate is not None else Admit.SERVE
        if admit is Admit.FIRST:
            return True
        if admit is Admit.SERVE and self._pending_servers < self._max_server:
            return True
        if admit is Admit.BUSY:
            self._busy(request, peer)
        elif admit is Admit.SERVE:
            self._overloaded(request, peer)
        return False

    def _new_server(self, request: SipRequest, peer: Peer, key: TxKey) -> ServerTransaction:
        tx = ServerTransaction(layer=self, request=request, peer=peer, key=key)
        self._servers[key] = tx
        self._pending_servers += 1
        return tx

    def answered(self, tx: Transaction) -> None:
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
        self._busy(request, peer)

    def _busy(self, request: SipRequest, peer: Peer) -> None:
        busy = build_response(request, 503, headers={"Retry-After": str(self._retry_after)})
        self.counts.response(503)
        self.transmit(bytes(busy), peer)

    def forget(self, tx: Transaction) -> None:
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


__all__ = [
    "Admit",
    "ClientTransaction",
    "Gate",
    "MessageSender",
    "ServerTransaction",
    "Timers",
    "TransactionLayer",
]

"""The transaction layer (RFC 3261 §17) over real loopback UDP and TCP, with T1 = 10 ms.

Assertions are on counts and outcomes, never wall time; retransmission counts are ranges.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Literal

import pytest
from aiosipua import SipRequest, SipResponse

from callbridge.sip.message import Peer, build_response, new_branch, parse_message
from callbridge.sip.transaction import ServerTransaction, Timers, TransactionLayer
from callbridge.sip.transport import SipTransport

FAST = Timers(t1=0.01, t2=0.04, t4=0.05, d=0.05)
HOST = "127.0.0.1"
Kind = Literal["udp", "tcp"]
Answer = Callable[[SipRequest, ServerTransaction | None], None]


async def eventually(predicate: Callable[[], bool]) -> None:
    """Poll until true (bounded, so a broken test fails instead of hanging)."""
    for _ in range(2500):
        if predicate():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("condition never became true")


async def settle(timers: Timers = FAST) -> None:
    """Long enough for any retransmission timer to have fired again (> T2)."""
    await asyncio.sleep(timers.t2 * 3)


def request(method: str, *, call_id: str = "tx-test", cseq: int = 1) -> SipRequest:
    message = SipRequest(method=method, uri=f"sip:bob@{HOST}")
    message.add_header("From", f"<sip:alice@{HOST}>;tag=alice1")
    message.add_header("To", f"<sip:bob@{HOST}>")
    message.add_header("Call-ID", call_id)
    message.add_header("CSeq", f"{cseq} {method}")
    message.add_header("Max-Forwards", "70")
    return message


class Sink:
    """A peer with no transaction layer: records what arrives, sends raw bytes."""

    def __init__(self) -> None:
        self.messages: list[tuple[SipRequest | SipResponse, Peer]] = []
        self.transport = SipTransport(on_message=self._on_message)

    def _on_message(self, data: bytes, peer: Peer) -> None:
        self.messages.append((parse_message(data), peer))

    def requests(self, method: str) -> list[SipRequest]:
        return [m for m, _ in self.messages if isinstance(m, SipRequest) and m.method == method]

    def responses(self, status: int) -> list[SipResponse]:
        return [
            m for m, _ in self.messages if isinstance(m, SipResponse) and m.status_code == status
        ]

    def request(self, method: str, kind: Kind, *, branch: str | None = None) -> SipRequest:
        message = request(method)
        sent_by = f"{HOST}:{self.transport.local_port}"
        via = f"SIP/2.0/{kind.upper()} {sent_by};branch={branch or new_branch()};rport"
        message.set_header("Via", via)
        return message


class Endpoint:
    """A transaction layer on a real transport; its TU records requests and may answer them."""

    def __init__(self, *, answer: Answer | None, max_server: int, timers: Timers = FAST) -> None:
        self.requests: list[tuple[SipRequest, ServerTransaction | None, Peer]] = []
        self.unmatched: list[SipResponse] = []
        self._answer = answer
        self.transport = SipTransport(on_message=lambda data, peer: self.layer.receive(data, peer))
        self.layer = TransactionLayer(
            transport=self.transport,
            timers=timers,
            on_request=self._on_request,
            on_unmatched_response=lambda response, _peer: self.unmatched.append(response),
            max_server_transactions=max_server,
        )

    def _on_request(self, req: SipRequest, tx: ServerTransaction | None, peer: Peer) -> None:
        self.requests.append((req, tx, peer))
        if self._answer is not None:
            self._answer(req, tx)

    def methods(self) -> list[str]:
        return [r.method for r, _, _ in self.requests]


class Net:
    def __init__(self) -> None:
        self._closers: list[Callable[[], Awaitable[None]]] = []

    async def endpoint(
        self, answer: Answer | None = None, *, max_server: int = 100, timers: Timers = FAST
    ) -> Endpoint:
        endpoint = Endpoint(answer=answer, max_server=max_server, timers=timers)
        await endpoint.transport.start(HOST, 0)
        self._closers += [endpoint.layer.close, endpoint.transport.close]
        return endpoint

    async def sink(self) -> Sink:
        sink = Sink()
        await sink.transport.start(HOST, 0)
        self._closers.append(sink.transport.close)
        return sink

    async def close(self) -> None:
        for closer in self._closers:
            await closer()


@pytest.fixture
async def net() -> AsyncIterator[Net]:
    network = Net()
    yield network
    await network.close()


def at(target: SipTransport, kind: Kind) -> Peer:
    return Peer(transport=kind, host=HOST, port=target.local_port)


def respond_with(status: int) -> Answer:
    def answer(req: SipRequest, tx: ServerTransaction | None) -> None:
        if tx is not None and req.method != "CANCEL":
            tx.respond(build_response(req, status, to_tag="bob1"))

    return answer


# --- client transactions ---


async def test_invite_timeout_retransmits_then_408(net: Net) -> None:
    """§17.1.1.2: Timer A doubles from T1 until Timer B (64*T1) gives a synthesized 408."""
    sink = await net.sink()
    alice = await net.endpoint()
    tx = alice.layer.send_request(request("INVITE"), at(sink.transport, "udp"))
    final = await tx.final
    assert final.status_code == 408
    assert final.get_header("to") == f"<sip:bob@{HOST}>"  # synthesized here: no To tag
    await settle()
    assert 6 <= len(sink.requests("INVITE")) <= 7  # sends at 0, 1, 3, 7, 15, 31, (63) * T1
    assert sink.requests("ACK") == []
    assert tx.state == "terminated"


async def test_non_invite_retransmits_capped_at_t2_then_408(net: Net) -> None:
    """§17.1.2.2: Timer E doubles up to T2; Timer F times out."""
    sink = await net.sink()
    alice = await net.endpoint()
    tx = alice.layer.send_request(request("OPTIONS"), at(sink.transport, "udp"))
    assert (await tx.final).status_code == 408
    await settle()
    # 0, 1, 3, 7 T1 then every 4 T1 (T2) up to 64 T1: 3 + 15 or 16 sends.  Timers that fire
    # late on a loaded machine fit fewer into Timer F; doubling without the cap would send 7.
    assert 12 <= len(sink.requests("OPTIONS")) <= 19


async def test_no_retransmission_over_tcp(net: Net) -> None:
    sink = await net.sink()
    alice = await net.endpoint()
    tx = alice.layer.send_request(request("INVITE"), at(sink.transport, "tcp"))
    assert (await tx.final).status_code == 408
    assert len(sink.requests("INVITE")) == 1


@pytest.mark.parametrize("kind", ["udp", "tcp"])
async def test_non_invite_round_trip(net: Net, kind: Kind) -> None:
    bob = await net.endpoint(respond_with(200))
    alice = await net.endpoint()
    tx = alice.layer.send_request(request("OPTIONS"), at(bob.transport, kind))
    assert (await tx.final).status_code == 200
    assert bob.methods() == ["OPTIONS"]


@pytest.mark.parametrize("kind", ["udp", "tcp"])
async def test_486_is_acked_by_the_layer(net: Net, kind: Kind) -> None:
    """§17.1.1.3: ACK with the INVITE's branch and the response's To; the server absorbs it."""
    bob = await net.endpoint(respond_with(486))
    alice = await net.endpoint()
    tx = alice.layer.send_request(request("INVITE"), at(bob.transport, kind))
    statuses = [(await tx.next_response()).status_code for _ in range(2)]
    assert statuses == [100, 486]
    await eventually(lambda: bob.layer.server_count == 0)  # Timer I ran: ACK matched
    assert bob.methods() == ["INVITE"]


async def test_retransmitted_486_is_reacked_not_redelivered(net: Net) -> None:
    sink = await net.sink()
    alice = await net.endpoint()
    tx = alice.layer.send_request(request("INVITE"), at(sink.transport, "udp"))
    await eventually(lambda: bool(sink.requests("INVITE")))
    invite, peer = sink.messages[0]
    assert isinstance(invite, SipRequest)
    busy = bytes(build_response(invite, 486, to_tag="busy1"))
    sink.transport.send(busy, peer)
    assert (await tx.final).status_code == 486
    sink.transport.send(busy, peer)
    await eventually(lambda: len(sink.requests("ACK")) == 2)
    ack = sink.requests("ACK")[0]
    assert ack.via[0].branch == invite.via[0].branch
    assert ack.get_header("to") == f"<sip:bob@{HOST}>;tag=busy1"
    assert ack.get_header("cseq") == "1 ACK"
    assert alice.unmatched == []


async def test_2xx_ends_the_client_transaction(net: Net) -> None:
    """§17.1.1.2: 2xx goes to the TU; later 2xx retransmissions are unmatched (the TU re-ACKs)."""
    sink = await net.sink()
    alice = await net.endpoint()
    tx = alice.layer.send_request(request("INVITE"), at(sink.transport, "udp"))
    await eventually(lambda: bool(sink.requests("INVITE")))
    invite, peer = sink.messages[0]
    assert isinstance(invite, SipRequest)
    ok = bytes(build_response(invite, 200, to_tag="ok1"))
    sink.transport.send(ok, peer)
    assert (await tx.final).status_code == 200
    sink.transport.send(ok, peer)
    await eventually(lambda: len(alice.unmatched) == 1)
    assert sink.requests("ACK") == []


# --- server transactions ---


async def test_retransmitted_invite_is_delivered_once(net: Net) -> None:
    """§17.2.1: 100 Trying at once; a retransmission re-sends the last response."""
    sink = await net.sink()
    bob = await net.endpoint()
    invite = bytes(sink.request("INVITE", "udp"))
    bob_peer = at(bob.transport, "udp")
    sink.transport.send(invite, bob_peer)
    await eventually(lambda: len(sink.responses(100)) == 1)
    sink.transport.send(invite, bob_peer)
    await eventually(lambda: len(sink.responses(100)) == 2)
    (req, tx, _), *rest = bob.requests
    assert rest == []
    assert tx is not None
    tx.respond(build_response(req, 180, to_tag="b1"))
    sink.transport.send(invite, bob_peer)
    await eventually(lambda: len(sink.responses(180)) == 2)
    assert len(bob.requests) == 1


async def test_server_retransmits_486_until_ack(net: Net) -> None:
    """§17.2.1 Timer G; the ACK stops it and is not passed up."""
    sink = await net.sink()
    bob = await net.endpoint(respond_with(486))
    invite = sink.request("INVITE", "udp")
    sink.transport.send(bytes(invite), at(bob.transport, "udp"))
    await eventually(lambda: len(sink.responses(486)) >= 3)
    busy = sink.responses(486)[0]
    ack = sink.request("ACK", "udp", branch=invite.via[0].branch)
    ack.set_header("To", busy.get_header("to") or "")
    sink.transport.send(bytes(ack), at(bob.transport, "udp"))
    await eventually(lambda: bob.layer.server_count == 0)
    seen = len(sink.responses(486))
    await settle()
    assert len(sink.responses(486)) == seen
    assert bob.methods() == ["INVITE"]


async def test_responses_follow_received_and_rport(net: Net) -> None:
    """RFC 3581: the response's top Via records where the request really came from."""
    sink = await net.sink()
    bob = await net.endpoint(respond_with(200))
    options = sink.request("OPTIONS", "udp")
    options.set_header("Via", f"SIP/2.0/UDP 192.0.2.99:5060;branch={new_branch()};rport")
    sink.transport.send(bytes(options), at(bob.transport, "udp"))
    await eventually(lambda: bool(sink.responses(200)))
    via = sink.responses(200)[0].via[0]
    assert (via.host, via.received, via.rport) == (
        "192.0.2.99",
        HOST,
        str(sink.transport.local_port),
    )


@pytest.mark.parametrize("kind", ["udp", "tcp"])
async def test_cancel_flow(net: Net, kind: Kind) -> None:
    """§9.1/§9.2: CANCEL gets 200 from the layer, the TU answers the INVITE 487, the layer ACKs."""
    bob = await net.endpoint()
    alice = await net.endpoint()
    invite_tx = alice.layer.send_request(request("INVITE"), at(bob.transport, kind))
    assert (await invite_tx.next_response()).status_code == 100
    (invite, server_tx, _), *_ = bob.requests
    assert server_tx is not None
    cancel_tx = alice.layer.send_request(invite_tx.cancel_request(), at(bob.transport, kind))
    assert (await cancel_tx.final).status_code == 200
    await asyncio.wait_for(server_tx.cancelled.wait(), 5)
    server_tx.respond(build_response(invite, 487, to_tag="b1"))
    assert (await invite_tx.final).status_code == 487
    await eventually(lambda: bob.layer.server_count == 0)
    assert bob.methods() == ["INVITE"]


async def test_cancel_without_match_gets_481(net: Net) -> None:
    bob = await net.endpoint()
    alice = await net.endpoint()
    tx = alice.layer.send_request(request("CANCEL"), at(bob.transport, "udp"))
    assert (await tx.final).status_code == 481
    assert bob.requests == []


async def test_cancel_after_final_does_not_cancel(net: Net) -> None:
    bob = await net.endpoint(respond_with(486))
    alice = await net.endpoint()
    invite_tx = alice.layer.send_request(request("INVITE"), at(bob.transport, "udp"))
    await invite_tx.final
    # The server transaction lingers in Confirmed (Timer I) or is gone: 200 or 481, never cancelled.
    cancel_tx = alice.layer.send_request(invite_tx.cancel_request(), at(bob.transport, "udp"))
    assert (await cancel_tx.final).status_code in (200, 481)
    (_, server_tx, _), *_ = bob.requests
    assert server_tx is not None
    assert not server_tx.cancelled.is_set()


async def test_overload_answers_503(net: Net) -> None:
    sink = await net.sink()
    bob = await net.endpoint(max_server=1)
    bob_peer = at(bob.transport, "udp")
    sink.transport.send(bytes(sink.request("OPTIONS", "udp")), bob_peer)
    await eventually(lambda: len(bob.requests) == 1)
    sink.transport.send(bytes(sink.request("OPTIONS", "udp")), bob_peer)
    await eventually(lambda: bool(sink.responses(503)))
    assert sink.responses(503)[0].get_header("retry-after") == "5"
    ack = sink.request("ACK", "udp")
    sink.transport.send(bytes(ack), bob_peer)
    await eventually(lambda: len(bob.requests) == 2)
    assert bob.requests[1][1] is None  # ACK: no transaction, not shed
    assert bob.methods() == ["OPTIONS", "ACK"]


async def test_answered_transactions_do_not_count_towards_overload(net: Net) -> None:
    """Completed/Accepted transactions only absorb retransmissions for 64*T1: the limit is
    on requests the TU has not answered, or a server would cap at max/(2*64*T1) calls/s."""
    sink = await net.sink()
    bob = await net.endpoint(respond_with(200), max_server=1)
    bob_peer = at(bob.transport, "udp")
    for count in (1, 2, 3):
        sink.transport.send(bytes(sink.request("OPTIONS", "udp")), bob_peer)
        await eventually(lambda: len(sink.responses(200)) == count)  # noqa: B023 (awaited here)
    assert not sink.responses(503)
    assert bob.layer.pending_server_count == 0


async def test_malformed_request_gets_400_and_garbage_is_dropped(net: Net) -> None:
    sink = await net.sink()
    bob = await net.endpoint(respond_with(200))
    bob_peer = at(bob.transport, "udp")
    bad = sink.request("OPTIONS", "udp")
    bad.set_header("CSeq", "1 INVITE")
    sink.transport.send(b"\x00\xffnot sip at all\r\n\r\n", bob_peer)
    sink.transport.send(bytes(bad), bob_peer)
    await eventually(lambda: bool(sink.responses(400)))
    sink.transport.send(bytes(sink.request("OPTIONS", "udp")), bob_peer)
    await eventually(lambda: bool(sink.responses(200)))
    assert [m.status_code for m, _ in sink.messages if isinstance(m, SipResponse)] == [400, 200]
    assert bob.methods() == ["OPTIONS"]


async def test_close_cancels_waiters_and_timers(net: Net) -> None:
    sink = await net.sink()
    alice = await net.endpoint()
    tx = alice.layer.send_request(request("INVITE"), at(sink.transport, "udp"))
    waiter = asyncio.ensure_future(tx.next_response())
    await eventually(lambda: bool(sink.requests("INVITE")))
    await alice.layer.close()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert tx.final.cancelled()
    assert tx.state == "terminated"
    sent = len(sink.requests("INVITE"))
    await settle()
    assert len(sink.requests("INVITE")) == sent


async def test_accepted_invite_absorbs_retransmissions_and_passes_2xx_ack(net: Net) -> None:
    """RFC 6026 §7.1: after 2xx the INVITE retransmission is absorbed; the ACK goes to the TU."""
    sink = await net.sink()
    bob = await net.endpoint(respond_with(200))
    bob_peer = at(bob.transport, "udp")
    invite = bytes(sink.request("INVITE", "udp"))
    sink.transport.send(invite, bob_peer)
    await eventually(lambda: bool(sink.responses(200)))
    sink.transport.send(invite, bob_peer)
    ack = sink.request("ACK", "udp")  # §13.2.2.4: a new branch for the 2xx ACK
    sink.transport.send(bytes(ack), bob_peer)
    await eventually(lambda: len(bob.requests) == 2)
    assert bob.methods() == ["INVITE", "ACK"]
    assert bob.requests[1][1] is None
    assert len(sink.responses(200)) == 1


async def test_failing_tu_gets_500_instead_of_a_stuck_transaction(net: Net) -> None:
    def broken(req: SipRequest, tx: ServerTransaction | None) -> None:
        raise RuntimeError("TU bug")

    bob = await net.endpoint(broken)
    alice = await net.endpoint()
    tx = alice.layer.send_request(request("OPTIONS"), at(bob.transport, "udp"))
    assert (await tx.final).status_code == 500


async def test_a_tu_that_never_answers_gets_408_at_timer_c_and_f(net: Net) -> None:
    """Issue 15 (2): no server transaction outlives the RFC 3261 timers, even when the TU
    never answers: an INVITE gets 408 at Timer C after its last provisional response, a
    non-INVITE at 64*T1 (Timer F), and both leave the table."""
    bob = await net.endpoint(timers=replace(FAST, c=0.3))  # records, never answers
    alice = await net.endpoint()
    invite = alice.layer.send_request(request("INVITE"), at(bob.transport, "udp"))
    options = alice.layer.send_request(request("OPTIONS", call_id="o"), at(bob.transport, "udp"))
    assert (await invite.next_response()).status_code == 100
    assert (await invite.next_response()).status_code == 408
    assert (await options.final).status_code == 408  # ours or the client's own Timer F
    await eventually(lambda: bob.layer.pending_server_count == 0)
    await eventually(lambda: bob.layer.server_count == 0)
    assert sorted(bob.methods()) == ["INVITE", "OPTIONS"]


async def test_timer_c_restarts_with_each_provisional_response(net: Net) -> None:
    timers = replace(FAST, c=0.3)
    bob = await net.endpoint(timers=timers)
    alice = await net.endpoint()
    invite = alice.layer.send_request(request("INVITE"), at(bob.transport, "udp"))
    assert (await invite.next_response()).status_code == 100
    [(req, tx, _)] = bob.requests
    assert tx is not None
    for _ in range(3):  # 180 every 0.2 s keeps it alive past 0.3 s
        await asyncio.sleep(0.2)
        tx.respond(build_response(req, 180, to_tag="bob1"))
    tx.respond(build_response(req, 486, to_tag="bob1"))
    statuses = [(await invite.next_response()).status_code for _ in range(4)]
    assert statuses == [180, 180, 180, 486]

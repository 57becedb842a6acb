"""RequestGate: what is served first, what is shed, and what is dropped before parsing."""

from __future__ import annotations

from aiosipua import SipRequest

from callbridge.engine.admission import RequestGate
from callbridge.engine.routing import Trunk
from callbridge.engine.trunk_limits import TrunkRequestLimits
from callbridge.sip.message import Peer, parse_message
from callbridge.sip.pike import Pike, PikeLimits
from callbridge.sip.transaction import Admit

FLOODER = Peer(transport="udp", host="127.0.0.66", port=5060)


def _request(method: str, *, to_tag: str = "") -> bytes:
    to = "<sip:x@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    return (
        f"{method} sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.66;branch=z9hG4bK-1\r\n"
        f"From: <sip:y@127.0.0.66>;tag=f\r\nTo: {to}\r\nCall-ID: c\r\nCSeq: 1 {method}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


class Lag:
    lag = 0.5


def test_live_dialogs_first_then_the_source_limit_then_options_then_lag() -> None:
    live = {"live"}

    def in_live_dialog(request: SipRequest) -> bool:
        return request.to_addr is not None and request.to_addr.tag in live

    gate = RequestGate(
        in_live_dialog=in_live_dialog,
        pike=Pike(limits=PikeLimits(requests=2, window=60)),
        lag=Lag(),
        max_lag=0.2,
    )

    def admit(data: bytes) -> Admit:
        request = parse_message(data)
        assert isinstance(request, SipRequest)
        return gate(request, FLOODER)

    assert admit(_request("OPTIONS")) is Admit.FIRST
    assert admit(_request("INVITE")) is Admit.BUSY  # the loop is late
    assert admit(_request("INVITE")) is Admit.BUSY  # over the limit: the first refusal
    assert admit(_request("INVITE")) is Admit.DROP
    assert admit(_request("BYE", to_tag="live")) is Admit.FIRST  # never limited
    assert admit(_request("BYE", to_tag="gone")) is Admit.DROP
    # Before parsing: dropped, except responses and requests naming a To tag.
    assert not gate.screen(_request("INVITE"), FLOODER)
    assert gate.screen(_request("BYE", to_tag="live"), FLOODER)
    assert gate.screen(b"SIP/2.0 200 OK\r\n", FLOODER)
    assert gate.screen(_request("INVITE"), Peer(transport="udp", host="127.0.0.7", port=5060))


def test_a_trunks_requests_skip_the_source_limit_and_count_against_its_own() -> None:
    """A carrier sends every caller's calls: its addresses are not pike-limited; a trunk
    with max_requests_per_second gets 503 past it (never a drop), another trunk none."""
    now = [0.0]
    limited = Trunk(name="limited", uri="sip:127.0.0.70", max_requests_per_second=3)
    unlimited = Trunk(name="open", uri="sip:127.0.0.71")
    trunks = {"127.0.0.70": limited, "127.0.0.71": unlimited}
    gate = RequestGate(
        in_live_dialog=lambda request: False,
        pike=Pike(limits=PikeLimits(requests=2, window=60), clock=lambda: now[0]),
        trunk_of=trunks.get,
        trunk_limits=TrunkRequestLimits(clock=lambda: now[0]),
    )
    invite = parse_message(_request("INVITE"))
    assert isinstance(invite, SipRequest)

    def admit(host: str) -> Admit:
        return gate(invite, Peer(transport="udp", host=host, port=5060))

    assert [admit("127.0.0.71") for _ in range(50)] == [Admit.SERVE] * 50
    assert [admit("127.0.0.70") for _ in range(5)] == [Admit.SERVE] * 3 + [Admit.BUSY] * 2
    now[0] += 1.0  # a second later: three more
    assert [admit("127.0.0.70") for _ in range(4)] == [Admit.SERVE] * 3 + [Admit.BUSY]
    # Anyone else: the per-source limit, as before.
    assert [admit(FLOODER.host) for _ in range(4)] == [Admit.SERVE] * 2 + [Admit.BUSY, Admit.DROP]
    assert gate.screen(_request("INVITE"), Peer(transport="udp", host="127.0.0.71", port=5060))

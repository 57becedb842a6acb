"""An INVITE from a trunk's inbound address is not digest-challenged even when its From
claims our domain (carriers put the called number's domain there); from elsewhere it is."""

from __future__ import annotations

from aiosipua import SipRequest

from callbridge.engine.invite_auth import InviteAuthenticator
from callbridge.engine.routing import Trunk
from callbridge.sip.auth import DigestAuthenticator
from callbridge.sip.message import Peer, parse_message

INVITE = (
    "INVITE sip:+15550199@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.10.2:5060;branch=z9hG4bK1\r\n"
    "From: <sip:+4930123@127.0.0.1>;tag=a\r\nTo: <sip:+15550199@127.0.0.1>\r\n"
    "Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
)


def test_a_trunk_address_is_not_challenged_whatever_its_from_claims() -> None:
    request = parse_message(INVITE.encode())
    assert isinstance(request, SipRequest)
    auth = InviteAuthenticator(
        authenticator=DigestAuthenticator(realm="callbridge"),
        password_for=lambda user: None,
        domains=("127.0.0.1",),
    )
    carrier = Trunk(name="carrier", uri="sip:127.0.10.2:5060")
    peer = Peer(transport="udp", host="127.0.10.2", port=5060)
    assert carrier.sends_from(peer.host)
    assert auth.caller(request, peer, from_trunk=True) == (None, None)
    user, challenge = auth.caller(request, Peer(transport="udp", host="127.0.10.3", port=5060))
    assert user is None
    assert challenge is not None
    assert challenge.status_code == 407

"""Two in-process endpoints relaying to each other (RFC 3550 §7 translator)."""

from __future__ import annotations

from typing import Protocol

from callbridge.rtp.relay import RelayDirection
from callbridge.rtp.session import RtpSession


class Bridged(Protocol):
    """What a bridge needs of an endpoint: its RTP session and a slot for the bridge."""

    session: RtpSession
    bridge: Bridge | None


class Bridge:
    """Relays ``a``'s packets to ``b`` and back, on receipt (:mod:`callbridge.rtp.relay`)."""

    __slots__ = ("a", "a_to_b", "b", "b_to_a")

    def __init__(self, *, a: Bridged, b: Bridged) -> None:
        self.a, self.b = a, b
        self.a_to_b = RelayDirection(source=a.session, target=b.session)
        self.b_to_a = RelayDirection(source=b.session, target=a.session)
        a.session.forward = self.a_to_b.forward
        b.session.forward = self.b_to_a.forward

    def reconfigure(self) -> None:
        """Either side's stream changed (re-INVITE): relay by the new payload types."""
        self.a_to_b.configure(source=self.a.session)
        self.b_to_a.configure(source=self.b.session)

    def dissolve(self) -> None:
        for endpoint, relay in ((self.a, self.a_to_b), (self.b, self.b_to_a)):
            endpoint.session.forward = None
            endpoint.bridge = None
            relay.detach()

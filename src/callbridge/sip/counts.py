"""What the SIP layer has received and answered, counted for ``/metrics``.

Requests are counted by method as they arrive (retransmissions included: each is work
done); responses by status code when a transaction (or the stateless 503 and 400 paths)
first sends them, not when a timer resends them.  A method this server does not know
counts as ``OTHER``, so no peer can add labels without bound."""

from __future__ import annotations

from collections import Counter

KNOWN_METHODS = frozenset(
    {
        "INVITE",
        "ACK",
        "BYE",
        "CANCEL",
        "OPTIONS",
        "REGISTER",
        "INFO",
        "UPDATE",
        "PRACK",
        "SUBSCRIBE",
        "NOTIFY",
        "REFER",
        "MESSAGE",
        "PUBLISH",
    }
)
OTHER = "OTHER"


class SipCounts:
    __slots__ = ("requests", "responses")

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.responses: Counter[int] = Counter()

    def request(self, method: str) -> None:
        self.requests[method if method in KNOWN_METHODS else OTHER] += 1

    def response(self, status: int) -> None:
        self.responses[status] += 1


__all__ = ["KNOWN_METHODS", "OTHER", "SipCounts"]

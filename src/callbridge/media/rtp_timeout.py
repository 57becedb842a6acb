"""The RTP timeout of one endpoint: whether the peer of an answered call still sends.

A peer that vanished without a BYE (crashed, unplugged, a flood's caller) leaves its
call up forever unless something notices its silence.  The check is a count compared
once a second (nothing per packet); a stream on hold (RFC 3264 §8.4: ``sendonly``,
``recvonly``, ``inactive`` or 0.0.0.0) is exempt, and its timer starts again when the
hold ends.
"""

from __future__ import annotations

from callbridge.codecs.stream import RemoteMedia


class RtpTimeout:
    """Fires once when the received-packet count of an answered stream has not moved for
    ``seconds`` (None or 0: never)."""

    __slots__ = ("_count", "_heard_at", "_seconds", "_started")

    def __init__(self, *, seconds: float | None) -> None:
        self._seconds = seconds or None
        self._started = False
        self._count = 0
        self._heard_at = 0.0

    def start(self, now: float) -> None:
        """The call is answered: the peer's silence counts from now."""
        self._started = True
        self._heard_at = now

    def expired(self, *, now: float, remote: RemoteMedia | None, packets_received: int) -> bool:
        """True the first time the peer has been silent too long, False ever after."""
        if remote is None or remote.on_hold or not self._started:
            self._heard_at = now
            return False
        if packets_received != self._count:
            self._count, self._heard_at = packets_received, now
            return False
        if self._seconds is None or now - self._heard_at < self._seconds:
            return False
        self._seconds = None
        return True

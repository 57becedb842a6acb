"""What an SDP offer/answer agreed on for one audio stream, as RTP needs it."""

from __future__ import annotations

from dataclasses import dataclass

from callbridge.codecs.formats import Codec


@dataclass(frozen=True)
class RemoteMedia:
    """Where a leg's peer wants RTP, and what it agreed to (from its SDP).  ``receives`` is
    false while the peer wants none (it holds the call, RFC 3264 §8.4): nothing is sent.
    ``sends`` is false while the peer says it sends none (``recvonly``, ``inactive``)."""

    host: str
    port: int
    codec: Codec
    dtmf_payload_type: int | None
    receives: bool = True
    sends: bool = True

    @property
    def on_hold(self) -> bool:
        """Not a two-way stream (``sendonly``, ``recvonly``, ``inactive``, or 0.0.0.0):
        the peer's silence is no sign that it is gone (no RTP timeout)."""
        return not (self.receives and self.sends)

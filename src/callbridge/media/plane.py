"""The media seam between the engine and whatever carries RTP.

The engine talks to a :class:`MediaPlane` only.  The default implementation runs
in-process (``media.inprocess``); a later one can drive rtpengine.  Audio sources
produce 20 ms frames of 16-bit signed little-endian mono PCM at 8 kHz (320 bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

FRAME_SAMPLES = 160
FRAME_BYTES = FRAME_SAMPLES * 2
SAMPLE_RATE = 8000
FRAME_SECONDS = 0.02


@dataclass(frozen=True)
class Codec:
    """An RTP audio payload format (RFC 3551 static types for G.711)."""

    name: str
    payload_type: int
    clock_rate: int = SAMPLE_RATE


PCMU = Codec("PCMU", 0)
PCMA = Codec("PCMA", 8)
TELEPHONE_EVENT_PT = 101


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


class AudioSource(Protocol):
    """Something that yields 20 ms PCM frames until it ends."""

    def read_frame(self) -> bytes | None:
        """Next 320-byte frame, or None when the source is exhausted."""
        ...


class MediaEndpoint(Protocol):
    """One call leg's RTP endpoint."""

    @property
    def local_host(self) -> str: ...

    @property
    def local_port(self) -> int: ...

    def set_remote(self, remote: RemoteMedia) -> None:
        """Start sending to (and accepting from) the peer; may be called again on re-INVITE."""
        ...

    def keep_alive(self) -> None:
        """The call is answered: from now on the stream never pauses (silence fills what
        nothing else sends), so the peer's RTP timeout and NAT bindings see it live."""
        ...

    async def play(self, source: AudioSource) -> bool:
        """Send the source paced by the media clock; True when it ran to its end,
        False when stopped by :meth:`stop_playback` or a bridge.  Cancel-safe."""
        ...

    def stop_playback(self) -> None: ...

    async def send_dtmf(self, digits: str, *, duration_ms: int = 100, gap_ms: int = 60) -> None:
        """RFC 4733 events, paced: first packet marked, repeated end packets (§2.5)."""
        ...

    def on_dtmf(self, callback: Callable[[str], None] | None) -> None:
        """Called once per received digit (RFC 4733 end, deduplicated by timestamp)."""
        ...

    def on_rtp_timeout(self, callback: Callable[[], None] | None) -> None:
        """Called once when the peer of an answered (:meth:`keep_alive`) endpoint has sent
        no RTP for the plane's RTP timeout; never while the stream is on hold
        (:attr:`RemoteMedia.on_hold`), whose timer starts again when it is resumed."""
        ...

    def start_recording(self, path: Path) -> None:
        """Write what the peer sends (decoded) to a WAV file, gaps filled with silence."""
        ...

    def stop_recording(self) -> None: ...

    @property
    def packets_received(self) -> int: ...

    @property
    def packets_sent(self) -> int: ...

    async def close(self) -> None:
        """Stop everything and release the port back to the pool."""
        ...


class MediaPlane(Protocol):
    """Allocates endpoints and connects them."""

    @property
    def codecs(self) -> tuple[Codec, ...]:
        """Offered codecs in preference order."""
        ...

    async def allocate(self) -> MediaEndpoint:
        """A new endpoint on a port held from the configured range.
        Raises :class:`MediaPortsExhausted` when none is free."""
        ...

    def bridge(self, a: MediaEndpoint, b: MediaEndpoint) -> None:
        """Relay RTP both ways (SSRC/sequence/timestamp rewritten, DTMF payload type mapped,
        transcoding PCMU<->PCMA when the two legs differ).  Stops playback on both."""
        ...

    def unbridge(self, a: MediaEndpoint) -> None:
        """Undo :meth:`bridge` for the pair that holds ``a`` (no-op when not bridged)."""
        ...

    async def close(self) -> None: ...


class MediaPortsExhausted(Exception):
    """No RTP port is free in the configured range."""

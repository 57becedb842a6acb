"""The media seam: what the engine asks of whatever carries a leg's RTP.

A plane negotiates SDP itself: the engine hands it the peer's SDP bodies as they arrive
and sends the bodies it returns, naming the dialog each belongs to
(:class:`~callbridge.media.plane.MediaDialog`).  The engine never sees a host, a port or
a codec.  An unusable body raises :class:`~callbridge.sip.sdp.SdpNegotiationError` (the
engine answers 488 to an offer, ignores a bad answer); no port or media slot raises
:class:`~callbridge.media.plane.MediaPortsExhausted` (503 Retry-After).

The default plane runs in-process (:mod:`callbridge.media.inprocess`, over
:mod:`callbridge.sip.sdp`).  How a plane driving rtpengine would implement each method
over its "ng" control protocol (bencoded dictionaries over UDP, each command keyed by
``call-id`` and ``from-tag``/``to-tag``):

- ``allocate``: no command; a handle that remembers the dialogs it negotiates for.
- ``offer`` (our INVITE, or a re-offer in the dialog; ``hold`` asks ``sendonly``): ng
  ``offer`` with an SDP of ours (no media of ours: rtpengine plays into the call) and
  ``from-tag`` = our tag; the ``sdp`` it returns is what we send.  One per fork.
- ``answer`` (the peer's offer): ng ``offer`` with the peer's SDP, ``from-tag`` = the
  peer's tag, then ng ``answer`` with an SDP of ours and ``to-tag`` = ours; the ``sdp``
  rtpengine returns to that is the answer we send.
  ``answer_sent``: nothing (rtpengine relays once the answer is in).
- ``accept_answer`` (183/200 to our offer): ng ``answer`` with the peer's SDP and its
  ``to-tag``; rtpengine's reply body is not sent anywhere.
- ``play``/``stop_playback``: ng ``play media``/``stop media`` for our tag;
  ``send_dtmf``: ``play DTMF``; ``start_recording``/``stop_recording``: ``start
  recording``/``stop recording``; ``on_dtmf``: rtpengine's DTMF event socket.
- ``bridge``/``unbridge``: ng ``connect`` of the two calls (or ``subscribe`` each to the
  other), undone by ``delete`` of the subscriptions.
- ``close``: ng ``delete`` for every dialog of the endpoint (losing forks included).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from callbridge.media.plane import AudioSource, MediaDialog


class MediaEndpoint(Protocol):
    """One call leg's media: its SDP offer/answer and what is played, heard and recorded."""

    async def offer(self, dialog: MediaDialog, *, hold: bool = False) -> bytes:
        """The SDP offer to send in ``dialog``: the INVITE we send (each fork asks for its
        own), or a new offer in an established dialog (re-INVITE, UPDATE, or the 200 to an
        offerless re-INVITE).  ``hold`` asks for ``sendonly`` (RFC 3264 §8.4); asked again
        unchanged it returns the previous SDP (same version, RFC 3264 §8)."""
        ...

    async def accept_answer(self, dialog: MediaDialog, answer: bytes) -> None:
        """The peer's answer to our offer (183, 200): media flows by it from now on.
        Raises SdpNegotiationError when it is unusable (nothing changes then)."""
        ...

    async def answer(self, dialog: MediaDialog, offer: bytes) -> bytes:
        """Our SDP answer to the peer's offer (an INVITE, re-INVITE or UPDATE).  Media
        follows it from :meth:`answer_sent` on.  Raises SdpNegotiationError (→ 488) when the
        offer is unusable (nothing changes then)."""
        ...

    def answer_sent(self, dialog: MediaDialog) -> None:
        """The answer from :meth:`answer` went out (183, 200): send to the peer by it.  A
        leg answered later than its INVITE arrived sends nothing before (no early media is
        faked)."""
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
        no RTP for the plane's RTP timeout; never while the stream is on hold (either side
        not sending), whose timer starts again when it is resumed."""
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
        """Stop everything and release what the endpoint holds (its port, its calls)."""
        ...


class MediaPlane(Protocol):
    """Makes endpoints and connects them."""

    async def allocate(self) -> MediaEndpoint:
        """A new endpoint, before any SDP exists.  Raises MediaPortsExhausted when the
        plane can take no more (the in-process plane: no port free in its range)."""
        ...

    def bridge(self, a: MediaEndpoint, b: MediaEndpoint) -> None:
        """Relay RTP both ways (SSRC/sequence/timestamp rewritten, DTMF payload type mapped,
        transcoding PCMU<->PCMA when the two legs differ).  Stops playback on both."""
        ...

    def unbridge(self, a: MediaEndpoint) -> None:
        """Undo :meth:`bridge` for the pair that holds ``a`` (no-op when not bridged)."""
        ...

    async def close(self) -> None: ...

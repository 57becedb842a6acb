"""Values every media plane shares with the engine: the dialog a leg's media belongs to,
what an audio source is, and the plane's one domain error.

The ports the engine drives (``MediaPlane``, ``MediaEndpoint``) are owned by their user,
in :mod:`callbridge.engine.media_ports`; the in-process plane is :mod:`.inprocess`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class MediaDialog:
    """The SIP dialog a leg's media belongs to, named as its dialog-creating INVITE names
    it: ``from_tag`` is the caller's tag, ``to_tag`` the callee's (None until the callee
    answered; each fork of an INVITE we send is a dialog of its own).  A plane that keys
    calls by them (rtpengine's ``call-id``, ``from-tag``, ``to-tag``) gets them here."""

    call_id: str
    from_tag: str
    to_tag: str | None = None


class AudioSource(Protocol):
    """Something that yields 20 ms PCM frames until it ends."""

    def read_frame(self) -> bytes | None:
        """Next 320-byte frame, or None when the source is exhausted."""
        ...


class MediaPortsExhausted(Exception):
    """No RTP port is free in the configured range."""

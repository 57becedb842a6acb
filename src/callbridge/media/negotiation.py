"""One in-process endpoint's side of SDP offer/answer (RFC 3264), over :mod:`callbridge.sip.sdp`.

It keeps what a later SDP of the same session needs: the o= sess-id, chosen once, and the
version, stepped by one each time the SDP changes (§8); the SDP sent last (an unchanged
re-offer, a session refresh, is that SDP again); and the stream an answer agreed on until
that answer is sent.  Pure and synchronous: the endpoint applies what it returns.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from callbridge.codecs.formats import Codec
from callbridge.codecs.stream import RemoteMedia
from callbridge.sip.sdp import build_answer, build_offer, parse_answer


class SdpNegotiator:
    """Builds the SDP an endpoint at ``host``:``port`` sends and reads what its peer sends."""

    __slots__ = (
        "_codecs",
        "_held",
        "_host",
        "_local",
        "_pending",
        "_port",
        "_session_id",
        "_version",
    )

    def __init__(self, *, host: str, port: int, codecs: Sequence[Codec]) -> None:
        self._host = host
        self._port = port
        self._codecs = tuple(codecs)
        self._session_id = secrets.randbelow(2**31 - 1) + 1
        self._version = 0
        self._local: bytes | None = None
        self._held = False
        self._pending: RemoteMedia | None = None

    @property
    def local_sdp(self) -> bytes | None:
        """The SDP built last (offer or answer), None before the first."""
        return self._local

    def offer(self, *, hold: bool) -> bytes:
        """Our offer: every codec of ours, ``sendonly`` when ``hold``; the previous SDP
        again when nothing changed (RFC 3264 §8: same version)."""
        if self._local is not None and hold == self._held:
            return self._local
        sdp = build_offer(
            host=self._host,
            port=self._port,
            codecs=self._codecs,
            session_id=self._session_id,
            version=self._version + 1,
            direction="sendonly" if hold else "sendrecv",
        )
        self._version += 1
        self._local, self._held = sdp, hold
        return sdp

    def answer(self, offer: bytes) -> bytes:
        """Our answer to ``offer`` (SdpNegotiationError when unusable, nothing changed);
        the stream it agrees on waits in :meth:`take_pending` until the answer is sent."""
        sdp, remote = build_answer(
            offer,
            host=self._host,
            port=self._port,
            codecs=self._codecs,
            session_id=self._session_id,
            version=self._version + 1,
        )
        self._version += 1
        self._local, self._held, self._pending = sdp, False, remote
        return sdp

    def take_pending(self) -> RemoteMedia | None:
        """The stream of the answer not yet sent, once (None when there is none)."""
        pending, self._pending = self._pending, None
        return pending

    def read_answer(self, answer: bytes) -> RemoteMedia:
        """The stream the peer's answer to our offer agrees on (SdpNegotiationError)."""
        return parse_answer(answer, self._codecs)

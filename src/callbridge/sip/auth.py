"""Digest authentication as a server (RFC 3261 §22, RFC 2617 / RFC 7616 MD5).

Client-side credentials come from ``aiosipua.auth.answer_challenge``; this module
issues challenges and checks answers.  Nonces are stateless: a timestamp, a random part
and an HMAC of both under a per-process secret, so a restart or a second node with the
same secret accepts them, and an old one is answered ``stale=true`` (§22.4).

Replays: with ``qop=auth`` the client counts the requests it sends with a nonce (``nc``,
RFC 7616 §3.4); an answer whose count is not above the highest this authenticator has
accepted for that nonce is refused, and an answer without qop uses its nonce up (count 1).
The counts live in memory for a nonce's lifetime: a restart forgets them, and each node of a
cluster keeps its own.  A UDP retransmission never reaches here (the transaction layer
answers it), so a client is refused only for a request it really sent twice.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from aiosipua.headers import parse_auth

NONCE_LIFETIME = 300.0
PRUNE_ABOVE = 4096  # remembered nonces before the expired ones are dropped


class AuthOutcome(Enum):
    OK = "ok"
    MISSING = "missing"
    STALE = "stale"
    REJECTED = "rejected"


@dataclass(frozen=True)
class AuthResult:
    outcome: AuthOutcome
    username: str | None = None


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


class DigestAuthenticator:
    """Issues ``WWW-Authenticate`` challenges and verifies ``Authorization`` answers."""

    def __init__(
        self,
        *,
        realm: str,
        secret: bytes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.realm = realm
        self._secret = secret or secrets.token_bytes(32)
        self._clock = clock
        self._counts: dict[str, tuple[float, int]] = {}  # nonce -> (issued, highest nc)
        self._prune_at = PRUNE_ABOVE

    def _nonce_mac(self, stamp: str) -> str:
        return hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:32]

    def new_nonce(self) -> str:
        """``<issued, hex seconds>.<random>.<mac>``: the random part keeps the nonces of
        one second apart (each has its own request counts)."""
        issued = f"{int(self._clock()):x}.{secrets.token_hex(8)}"
        return f"{issued}.{self._nonce_mac(issued)}"

    def challenge(self, *, stale: bool = False) -> str:
        """The value of a ``WWW-Authenticate`` (or ``Proxy-Authenticate``) header."""
        value = (
            f'Digest realm="{self.realm}", nonce="{self.new_nonce()}", algorithm=MD5, qop="auth"'
        )
        return value + (", stale=true" if stale else "")

    def _issued(self, nonce: str) -> int | None:
        """When ``nonce`` was issued, or ``None`` if this secret did not issue it."""
        issued, _, mac = nonce.rpartition(".")
        if not hmac.compare_digest(mac, self._nonce_mac(issued)):
            return None
        try:
            return int(issued.partition(".")[0], 16)
        except ValueError:
            return None

    def _count_is_new(self, nonce: str, issued: int, params: dict[str, str]) -> bool:
        """Record the answer's nonce count if it is above the last one accepted."""
        try:
            count = int(params.get("nc", ""), 16) if params.get("qop") else 1
        except ValueError:
            return False
        _, last = self._counts.get(nonce, (issued, 0))
        if count <= last:
            return False
        if len(self._counts) >= self._prune_at:
            self._forget_expired()
        self._counts[nonce] = (issued, count)
        return True

    def _forget_expired(self) -> None:
        """Drop the counts of stale nonces; the next pass comes when as many again are
        remembered (not at every answer while more than PRUNE_ABOVE are alive)."""
        oldest = self._clock() - NONCE_LIFETIME
        self._counts = {n: entry for n, entry in self._counts.items() if entry[0] >= oldest}
        self._prune_at = max(PRUNE_ABOVE, 2 * len(self._counts))

    def verify(
        self,
        header_value: str | None,
        *,
        method: str,
        password_for: Callable[[str], str | None],
    ) -> AuthResult:
        """Check an ``Authorization`` header value for ``method`` (§22.4, RFC 2617 §3.2.2)."""
        if not header_value:
            return AuthResult(AuthOutcome.MISSING)
        creds = parse_auth(header_value, credentials=True)
        params = creds.params
        username = params.get("username")
        if creds.scheme.lower() != "digest" or not username:
            return AuthResult(AuthOutcome.REJECTED)
        if params.get("realm") != self.realm or params.get("algorithm", "MD5").upper() != "MD5":
            return AuthResult(AuthOutcome.REJECTED, username)
        nonce = params.get("nonce", "")
        issued = self._issued(nonce)
        password = password_for(username)
        if password is None or issued is None:
            return AuthResult(AuthOutcome.REJECTED, username)
        expected = self.expected_response(params, method=method, password=password)
        if not hmac.compare_digest(expected, params.get("response", "")):
            return AuthResult(AuthOutcome.REJECTED, username)
        if self._clock() - issued > NONCE_LIFETIME:
            return AuthResult(AuthOutcome.STALE, username)
        if not self._count_is_new(nonce, issued, params):
            return AuthResult(AuthOutcome.REJECTED, username)  # a replay
        return AuthResult(AuthOutcome.OK, username)

    def expected_response(self, params: dict[str, str], *, method: str, password: str) -> str:
        ha1 = _md5(f"{params.get('username')}:{self.realm}:{password}")
        ha2 = _md5(f"{method}:{params.get('uri', '')}")
        nonce = params.get("nonce", "")
        if params.get("qop"):
            nc, cnonce, qop = params.get("nc", ""), params.get("cnonce", ""), params["qop"]
            return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
        return _md5(f"{ha1}:{nonce}:{ha2}")

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

A failed check spends its nonce: a later answer with it is refused unchecked, so each guess
costs the guesser a challenge.  With a :class:`~callbridge.sip.guesses.GuessThrottle`, an
address or user name that failed too often has its guesses refused unchecked
(``THROTTLED``).  An unknown user name is checked and fails exactly as a wrong password
does (against a password no one has), so answers do not tell which users exist.
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

from callbridge.sip.guesses import GuessThrottle

NONCE_LIFETIME = 300.0
PRUNE_ABOVE = 4096  # remembered nonces before the expired ones are dropped
SPENT = -1  # the count of a nonce a failed check used up


class AuthOutcome(Enum):
    OK = "ok"
    MISSING = "missing"
    STALE = "stale"
    REJECTED = "rejected"
    THROTTLED = "throttled"  # refused unchecked: too many failed guesses


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
        throttle: GuessThrottle | None = None,
    ) -> None:
        self.realm = realm
        self._secret = secret or secrets.token_bytes(32)
        self._unknown_password = secrets.token_hex(16)
        self.throttle = throttle
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
        if last == SPENT or count <= last:
            return False
        if len(self._counts) >= self._prune_at:
            self._forget_expired()
        self._counts[nonce] = (issued, count)
        return True

    def _spent(self, nonce: str) -> bool:
        return self._counts.get(nonce, (0, 0))[1] == SPENT

    def _spend(self, nonce: str, issued: int) -> None:
        if len(self._counts) >= self._prune_at:
            self._forget_expired()
        self._counts[nonce] = (issued, SPENT)

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
        source: str,
    ) -> AuthResult:
        """Check an ``Authorization`` header value for ``method`` (§22.4, RFC 2617 §3.2.2)
        sent from the address ``source`` (what the throttle counts)."""
        if not header_value:
            return AuthResult(AuthOutcome.MISSING)
        creds = parse_auth(header_value, credentials=True)
        params = creds.params
        username = params.get("username")
        if creds.scheme.lower() != "digest" or not username:
            return self._failed(source, None)
        if self.throttle is not None and not self.throttle.may_check(source=source, user=username):
            return AuthResult(AuthOutcome.THROTTLED, username)
        if params.get("realm") != self.realm or params.get("algorithm", "MD5").upper() != "MD5":
            return self._failed(source, username)
        nonce = params.get("nonce", "")
        issued = self._issued(nonce)
        if issued is None or self._spent(nonce):
            return self._failed(source, username)
        password = password_for(username)
        expected = self.expected_response(
            params, method=method, password=self._unknown_password if password is None else password
        )
        if not hmac.compare_digest(expected, params.get("response", "")) or password is None:
            self._spend(nonce, issued)
            return self._failed(source, username)
        if self._clock() - issued > NONCE_LIFETIME:
            return AuthResult(AuthOutcome.STALE, username)
        if not self._count_is_new(nonce, issued, params):
            return self._failed(source, username)  # a replay
        if self.throttle is not None:
            self.throttle.succeeded(source=source, user=username)
        return AuthResult(AuthOutcome.OK, username)

    def _failed(self, source: str, username: str | None) -> AuthResult:
        if self.throttle is not None:
            self.throttle.failed(source=source, user=username)
        return AuthResult(AuthOutcome.REJECTED, username)

    def expected_response(self, params: dict[str, str], *, method: str, password: str) -> str:
        ha1 = _md5(f"{params.get('username')}:{self.realm}:{password}")
        ha2 = _md5(f"{method}:{params.get('uri', '')}")
        nonce = params.get("nonce", "")
        if params.get("qop"):
            nc, cnonce, qop = params.get("nc", ""), params.get("cnonce", ""), params["qop"]
            return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
        return _md5(f"{ha1}:{nonce}:{ha2}")

"""Digest authentication as a server (RFC 3261 §22, RFC 2617 / RFC 7616 MD5).

Client-side credentials come from ``aiosipua.auth.answer_challenge``; this module
issues challenges and checks answers.  Nonces are stateless: a timestamp and an
HMAC of it under a per-process secret, so a restart or a second node with the
same secret accepts them, and an old one is answered ``stale=true`` (§22.4).
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

    def _nonce_mac(self, stamp: str) -> str:
        return hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:32]

    def new_nonce(self) -> str:
        stamp = f"{int(self._clock()):x}"
        return f"{stamp}.{self._nonce_mac(stamp)}"

    def challenge(self, *, stale: bool = False) -> str:
        """The value of a ``WWW-Authenticate`` (or ``Proxy-Authenticate``) header."""
        value = (
            f'Digest realm="{self.realm}", nonce="{self.new_nonce()}", algorithm=MD5, qop="auth"'
        )
        return value + (", stale=true" if stale else "")

    def _nonce_state(self, nonce: str) -> AuthOutcome:
        stamp, _, mac = nonce.partition(".")
        if not hmac.compare_digest(mac, self._nonce_mac(stamp)):
            return AuthOutcome.REJECTED
        try:
            issued = int(stamp, 16)
        except ValueError:
            return AuthOutcome.REJECTED
        if self._clock() - issued > NONCE_LIFETIME:
            return AuthOutcome.STALE
        return AuthOutcome.OK

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
        state = self._nonce_state(params.get("nonce", ""))
        password = password_for(username)
        if password is None or state is AuthOutcome.REJECTED:
            return AuthResult(AuthOutcome.REJECTED, username)
        expected = self.expected_response(params, method=method, password=password)
        if not hmac.compare_digest(expected, params.get("response", "")):
            return AuthResult(AuthOutcome.REJECTED, username)
        return AuthResult(state, username)

    def expected_response(self, params: dict[str, str], *, method: str, password: str) -> str:
        ha1 = _md5(f"{params.get('username')}:{self.realm}:{password}")
        ha2 = _md5(f"{method}:{params.get('uri', '')}")
        nonce = params.get("nonce", "")
        if params.get("qop"):
            nc, cnonce, qop = params.get("nc", ""), params.get("cnonce", ""), params["qop"]
            return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
        return _md5(f"{ha1}:{nonce}:{ha2}")

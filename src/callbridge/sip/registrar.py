"""Registrar (RFC 3261 §10.3): users REGISTER their phones' contacts with digest auth.

Bindings live in memory; a user may hold several contacts.  Requests are answered
synchronously by :meth:`Registrar.handle`, which also tells the caller how long to hold
the answer back when one address keeps failing authentication.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import formatdate

from aiosipua import SipRequest, SipResponse
from aiosipua.headers import parse_address, stringify_uri

from callbridge.sip.auth import AuthOutcome, DigestAuthenticator
from callbridge.sip.message import Peer, build_response

DEFAULT_EXPIRES = 3600
MIN_EXPIRES = 60
MAX_EXPIRES = 7200
FAILURE_WINDOW = 60.0
FAILURES_BEFORE_DELAY = 3
MAX_DELAY = 8.0
# Failures remembered per host: enough to reach MAX_DELAY, so that the back-off is bounded
# and each failure costs the same however many came before (2.0 ** 1024 overflowed).
REMEMBERED_FAILURES = FAILURES_BEFORE_DELAY + 8


@dataclass(frozen=True)
class Binding:
    """One registered contact of a user (§10.3 step 7)."""

    extension: str
    contact: str
    peer: Peer
    expires_at: float
    call_id: str
    cseq: int


@dataclass(frozen=True)
class RegisterAnswer:
    response: SipResponse
    delay: float = 0.0


class _Failures:
    """Counts authentication failures per source host within a sliding window (the last
    REMEMBERED_FAILURES of them)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._seen: dict[str, list[float]] = {}

    def record(self, host: str) -> None:
        now = self._clock()
        recent = [t for t in self._seen.get(host, []) if now - t < FAILURE_WINDOW]
        recent.append(now)
        self._seen[host] = recent[-REMEMBERED_FAILURES:]

    def delay_for(self, host: str) -> float:
        now = self._clock()
        count = sum(1 for t in self._seen.get(host, []) if now - t < FAILURE_WINDOW)
        if count < FAILURES_BEFORE_DELAY:
            return 0.0
        doublings = min(count - FAILURES_BEFORE_DELAY, REMEMBERED_FAILURES)
        return min(MAX_DELAY, 0.5 * 2.0**doublings)

    def clear(self, host: str) -> None:
        self._seen.pop(host, None)


class Registrar:
    def __init__(
        self,
        *,
        passwords: Mapping[str, str],
        authenticator: DigestAuthenticator,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._passwords = dict(passwords)
        self._auth = authenticator
        self._clock = clock
        self._bindings: dict[str, dict[str, Binding]] = {}
        self._failures = _Failures(clock)

    def is_user(self, extension: str) -> bool:
        return extension in self._passwords

    def password_for(self, extension: str) -> str | None:
        return self._passwords.get(extension)

    def lookup(self, extension: str) -> list[Binding]:
        """Live contacts of a user, most recently registered first; empty when offline."""
        now = self._clock()
        live = {c: b for c, b in self._bindings.get(extension, {}).items() if b.expires_at > now}
        self._bindings[extension] = live
        return sorted(live.values(), key=lambda b: b.expires_at, reverse=True)

    def bound_contacts(self) -> int:
        """Contacts registered now, over all users (``/metrics``)."""
        now = self._clock()
        return sum(b.expires_at > now for each in self._bindings.values() for b in each.values())

    def handle(self, request: SipRequest, peer: Peer) -> RegisterAnswer:
        result = self._auth.verify(
            request.get_header("authorization"),
            method="REGISTER",
            password_for=self.password_for,
            source=peer.host,
        )
        if result.outcome is AuthOutcome.THROTTLED:  # refused unchecked (sip/guesses.py)
            return RegisterAnswer(build_response(request, 403, "Forbidden (too many failures)"))
        if result.outcome is not AuthOutcome.OK:
            return self._challenge(request, peer, result.outcome)
        self._failures.clear(peer.host)
        aor_user = parse_address(request.get_header("to") or "").uri.user
        if aor_user != result.username:
            return RegisterAnswer(build_response(request, 403, "Forbidden (AOR mismatch)"))
        return self._update(request, peer, result.username or "")

    def _challenge(self, request: SipRequest, peer: Peer, outcome: AuthOutcome) -> RegisterAnswer:
        if outcome is AuthOutcome.REJECTED:
            self._failures.record(peer.host)
        response = build_response(request, 401)
        response.add_header(
            "WWW-Authenticate", self._auth.challenge(stale=outcome is AuthOutcome.STALE)
        )
        return RegisterAnswer(response, self._failures.delay_for(peer.host))

    def _update(self, request: SipRequest, peer: Peer, user: str) -> RegisterAnswer:
        contacts = request.get_header_values("contact")
        header_expires = request.get_header("expires")
        bindings = self._bindings.setdefault(user, {})
        if contacts == ["*"]:
            if header_expires is None or header_expires.strip() != "0":
                return RegisterAnswer(
                    build_response(request, 400, "Bad Request (* needs Expires: 0)")
                )
            bindings.clear()
            return RegisterAnswer(self._ok(request, user))
        now = self._clock()
        for raw in contacts:
            address = parse_address(raw)
            expires = _expires_of(address.params.get("expires"), header_expires)
            if expires is None:
                return RegisterAnswer(build_response(request, 400, "Bad Request (Expires)"))
            uri = stringify_uri(address.uri)
            if expires == 0:
                bindings.pop(uri, None)
                continue
            if expires < MIN_EXPIRES:
                too_brief = build_response(request, 423, "Interval Too Brief")
                too_brief.add_header("Min-Expires", str(MIN_EXPIRES))
                return RegisterAnswer(too_brief)
            cseq = request.cseq
            bindings[uri] = Binding(
                extension=user,
                contact=uri,
                peer=peer,
                expires_at=now + min(expires, MAX_EXPIRES),
                call_id=request.call_id or "",
                cseq=cseq.seq if cseq else 0,
            )
        return RegisterAnswer(self._ok(request, user))

    def _ok(self, request: SipRequest, user: str) -> SipResponse:
        response = build_response(request, 200)
        now = self._clock()
        for binding in self.lookup(user):
            remaining = max(0, int(binding.expires_at - now))
            response.add_header("Contact", f"<{binding.contact}>;expires={remaining}")
        response.add_header("Date", formatdate(usegmt=True))
        return response


def _expires_of(param: str | None, header: str | None) -> int | None:
    """§10.2.1.1: the contact's expires parameter wins over the Expires header."""
    raw = param if param is not None else header
    if raw is None:
        return DEFAULT_EXPIRES
    raw = raw.strip()
    return int(raw) if raw.isdigit() else None

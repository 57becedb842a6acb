"""Which incoming INVITEs must authenticate (407, RFC 3261 §22.3), and checking them.

An INVITE whose From claims this server's domain (one of its names, or the host the
Request-URI names: the domain a phone registered to) says it comes from one of our users,
and is challenged whatever user it names: an unknown user is challenged, checked and
refused exactly as a wrong password is, so the answers do not tell which users exist.
INVITEs from other domains (a carrier, someone calling in) are not challenged: they reach
what callers from outside may reach (the incoming-call handler decides).  Neither is an
INVITE from a trunk's inbound address, whatever its From claims: carriers often put the
number they call (our domain) in From, and cannot answer a challenge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aiosipua import SipRequest, SipResponse
from aiosipua.headers import parse_address, parse_uri

from callbridge.sip.auth import AuthOutcome, DigestAuthenticator
from callbridge.sip.message import Peer, build_response


class InviteAuthenticator:
    def __init__(
        self,
        *,
        authenticator: DigestAuthenticator,
        password_for: Callable[[str], str | None],
        domains: Iterable[str],
    ) -> None:
        self._auth = authenticator
        self._password_for = password_for
        self._domains = {d.lower() for d in domains if d}

    def claims_our_domain(self, request: SipRequest) -> bool:
        from_host = (parse_address(request.get_header("from") or "").uri.host or "").lower()
        if not from_host:
            return False
        if from_host in self._domains:
            return True
        try:
            target_host = (parse_uri(request.uri).host or "").lower()
        except (ValueError, IndexError):
            return False
        return from_host == target_host

    def caller(
        self, request: SipRequest, peer: Peer, *, from_trunk: bool = False
    ) -> tuple[str | None, SipResponse | None]:
        """``(authenticated user, None)``, ``(None, None)`` for a caller from outside (or
        from a trunk), or ``(None, the response to send)``: a 407 challenge, or 403 while
        throttled."""
        if from_trunk or not self.claims_our_domain(request):
            return None, None
        caller = parse_address(request.get_header("from") or "").uri.user or ""
        result = self._auth.verify(
            request.get_header("proxy-authorization"),
            method="INVITE",
            password_for=self._password_for,
            source=peer.host,
        )
        if result.outcome is AuthOutcome.OK and result.username == caller:
            return caller, None
        if result.outcome is AuthOutcome.THROTTLED:
            return None, build_response(request, 403, "Forbidden (too many failures)")
        challenge = build_response(request, 407)
        challenge.add_header(
            "Proxy-Authenticate", self._auth.challenge(stale=result.outcome is AuthOutcome.STALE)
        )
        return None, challenge

"""Every request ends in a final response, whatever breaks while it is handled.

A request handler that raises would otherwise leave its server transaction waiting for the
TU forever (RFC 3261 has no timer for a server transaction in Proceeding): it keeps a slot
of the transaction table and whatever the handler took, and enough of them make the
engine refuse everyone with 503.  :func:`answered_on_failure` wraps a handler so that a
failure sends 400 (the request could not be understood) or 500 (anything else) and frees
the transaction; handlers release what they took themselves (``try``/``except``) before
re-raising.

Logging is bounded: input found malformed (:class:`~callbridge.sip.message.SipParseError`,
:class:`~callbridge.sip.sdp.SdpNegotiationError`) is one line; any other exception (a bug)
logs its traceback the first time it is raised from a given place, then one line each time.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable

from aiosipua import SipRequest

from callbridge.sip.message import Peer, SipParseError, build_response
from callbridge.sip.sdp import SdpNegotiationError
from callbridge.sip.transaction import ServerTransaction

log = logging.getLogger(__name__)

MAX_SITES = 256  # distinct raising places whose first traceback is logged
MAX_DETAIL = 120  # characters of an exception's text in a log line


class FailureLog:
    """Logs a failed request once per line, with a traceback for each new raising place."""

    def __init__(self) -> None:
        self._sites: set[tuple[str, str, int]] = set()

    def report(self, exc: BaseException, request: SipRequest, peer: Peer) -> None:
        detail = _printable(str(exc))
        if isinstance(exc, SipParseError | SdpNegotiationError):
            log.info("%s from %s refused: %s", request.method, peer.host, detail)
            return
        site = _site(exc)
        if site not in self._sites and len(self._sites) < MAX_SITES:
            self._sites.add(site)
            log.error("%s from %s failed", request.method, peer.host, exc_info=exc)
            return
        log.error(
            "%s from %s failed: %s: %s (at %s:%d)",
            request.method,
            peer.host,
            type(exc).__name__,
            detail,
            site[1],
            site[2],
        )


def status_for(exc: BaseException) -> int:
    """400 for a request we could not understand (parsers raise ``ValueError``), 500 for
    anything else."""
    return 400 if isinstance(exc, ValueError) else 500


async def answered_on_failure(
    handling: Awaitable[None],
    *,
    request: SipRequest,
    server_tx: ServerTransaction,
    peer: Peer,
    failures: FailureLog,
) -> None:
    """Run ``handling``; if it raises, answer what is still unanswered and free the
    transaction (cancellation, at shutdown, is left to the layer's close)."""
    try:
        await handling
    except Exception as exc:
        failures.report(exc, request, peer)
        answer_failure(server_tx, request, status_for(exc), exc)


def answer_failure(
    server_tx: ServerTransaction, request: SipRequest, status: int, exc: BaseException
) -> None:
    if not server_tx.pending:
        return
    reason = f"Bad Request ({_printable(str(exc))[:60]})" if status == 400 else None
    try:
        server_tx.respond(build_response(request, status, reason))
    except Exception:  # a response that cannot even be built: free the slot regardless
        log.info("no %d could be built for %s from %s", status, request.method, server_tx.peer)
    if server_tx.pending:
        server_tx.terminate()


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:MAX_DETAIL])


def _site(exc: BaseException) -> tuple[str, str, int]:
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    return (type(exc).__name__, last.filename if last else "?", (last.lineno or 0) if last else 0)


__all__ = ["FailureLog", "answer_failure", "answered_on_failure", "status_for"]

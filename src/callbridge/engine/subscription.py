"""One message-summary subscription as its notifier keeps it (RFC 6665 §4.2, RFC 3842).

Its dialog takes the subscriber's refreshes (in-dialog SUBSCRIBE) and says where NOTIFYs
go.  NOTIFYs are sent one at a time by a single sender task (§4.2.2: the next waits for
the previous one's final response); changes that come meanwhile are folded into the next
NOTIFY, which reads the counts when it is built.  A NOTIFY that fails (481, a timeout,
any final response above 299) ends the subscription at once (§4.2.2), without another
NOTIFY.  Ending it otherwise (unsubscribe, expiry, the per-user cap) sends one last NOTIFY
with ``Subscription-State: terminated``.

What it holds: one expiry timer (``loop.call_later``), at most one task (spawned on the
owner's :class:`~callbridge.engine.tasks.TaskOwner`) and its dialog registration; all are
let go once it is over (:attr:`finished`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from enum import Enum
from typing import Protocol

from aiosipua import SipRequest, SipResponse

from callbridge.engine.ports import SipStack
from callbridge.engine.tasks import TaskOwner
from callbridge.sip.dialog import Dialog
from callbridge.sip.event_headers import (
    EventHeader,
    TerminationReason,
    active_state,
    event_value,
    parse_event,
    terminated_state,
)
from callbridge.sip.message import Peer, SipParseError, build_response
from callbridge.sip.message_summary import CONTENT_TYPE, MessageSummary
from callbridge.sip.transaction import ServerTransaction

log = logging.getLogger(__name__)

UNKNOWN_COUNTS = (-1, -1)  # what ``told`` holds after a NOTIFY without counts
COUNTS_TIMEOUT = 5.0  # seconds a NOTIFY waits for the counts before it goes without a body
ALLOW = "SUBSCRIBE"


class MessageCounts(Protocol):
    """Where a user's voice messages are counted (the voicemail store)."""

    async def counts(self, user: str) -> tuple[int, int]:
        """(new, old) messages of the mailboxes whose users include ``user``."""
        ...


class SubscriptionState(Enum):
    ACTIVE = "active"
    TERMINATED = "terminated"


class ExpiresRule(Protocol):
    """The notifier's bounds on a subscription's duration (``MessageWaiting``)."""

    def granted(self, request: SipRequest, server_tx: ServerTransaction) -> int | None:
        """Seconds granted to ``request`` (0: unsubscribe); None: it has been refused."""
        ...


class Subscription:
    """A subscriber's dialog with us, the notifier, for one user's message summary."""

    def __init__(
        self,
        *,
        user: str,
        account: str,
        event: EventHeader,
        dialog: Dialog,
        peer: Peer,
        stack: SipStack,
        counts: MessageCounts,
        tasks: TaskOwner,
        expires_rule: ExpiresRule,
        on_ended: Callable[[Subscription], None],
        on_finished: Callable[[Subscription], None],
    ) -> None:
        self.user = user
        self.account = account
        self.event = event
        self.dialog = dialog
        self.peer = peer
        self.state = SubscriptionState.ACTIVE
        self.reason: TerminationReason | None = None
        self._stack = stack
        self._counts = counts
        self._tasks = tasks
        self._expires_rule = expires_rule
        self._on_ended = on_ended
        self._on_finished = on_finished
        self._loop = asyncio.get_running_loop()
        self._expires_at = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self._sender: asyncio.Task[None] | None = None
        self._dirty = False
        self.finished = False
        # The (new, old) counts its last NOTIFY carried; None: none read yet (one is
        # coming); UNKNOWN_COUNTS: its last NOTIFY went without them.
        self.told: tuple[int, int] | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.dialog.key

    @property
    def remaining(self) -> int:
        return max(0, round(self._expires_at - self._loop.time()))

    # --- life cycle ---

    def start(self, expires: int) -> None:
        """Accepted (its 200 sent): take its dialog's requests, NOTIFY the state now."""
        self._stack.register_dialog(self.key, self)
        if expires == 0:  # a fetch (§4.4.3): one NOTIFY with the state, terminated
            self.end(TerminationReason.TIMEOUT)
            return
        self._arm(expires)
        self._wake()

    def changed(self) -> None:
        """The user's counts may have changed: a NOTIFY follows (folded with others)."""
        if self.state is SubscriptionState.ACTIVE:
            self._wake()

    def _wake(self) -> None:
        self._dirty = True
        if self._sender is None and not self.finished:
            self._sender = self._tasks.spawn(self._send_notifies(), name=f"notify {self.user}")

    def end(self, reason: TerminationReason) -> None:
        """Terminate it, with a last NOTIFY saying so (§4.2.2)."""
        if self._terminate(reason):
            self._wake()

    def drop(self) -> None:
        """Terminate it without a NOTIFY (its NOTIFY failed; or the server closes)."""
        if self._terminate(TerminationReason.NORESOURCE):
            self._dirty = False
        if self._sender is None or self._sender is asyncio.current_task():
            self._finish()

    def close(self) -> None:
        """The server shuts down: let go of everything (its task is the owner's to cancel)."""
        self._dirty = False
        self.drop()

    def _terminate(self, reason: TerminationReason) -> bool:
        if self.state is SubscriptionState.TERMINATED:
            return False
        self.state = SubscriptionState.TERMINATED
        self.reason = reason
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._stack.unregister_dialog(self.key)
        self._on_ended(self)
        return True

    def _finish(self) -> None:
        if not self.finished:
            self.finished = True
            self._on_finished(self)

    def _arm(self, expires: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._expires_at = self._loop.time() + expires
        self._timer = self._loop.call_later(expires, self._expired)

    def _expired(self) -> None:
        self._timer = None
        log.debug("subscription of %s expired", self.user)
        self.end(TerminationReason.TIMEOUT)

    # --- NOTIFY ---

    async def _send_notifies(self) -> None:
        try:
            while self._dirty:
                self._dirty = False
                final = self.state is SubscriptionState.TERMINATED
                response = await self._notify(final=final)
                if final:
                    break
                if response.status_code >= 300:
                    log.info(
                        "NOTIFY to %s for %s answered %d: subscription ended",
                        self.peer.host,
                        self.user,
                        response.status_code,
                    )
                    self.drop()
                    break
        finally:
            self._sender = None
            if self.state is SubscriptionState.TERMINATED:
                self._finish()

    async def _notify(self, *, final: bool) -> SipResponse:
        body = await self._body()
        state = (
            terminated_state(self.reason or TerminationReason.TIMEOUT)
            if final
            else active_state(self.remaining)
        )
        request = self.dialog.create_request(
            "NOTIFY",
            body=body,
            content_type=CONTENT_TYPE if body else None,
            extra_headers={
                "Event": event_value(self.event),
                "Subscription-State": state,
                "Contact": f"<{self.dialog.local.contact_uri}>",
            },
        )
        return await self._stack.send_request(request, self.peer).final

    async def _body(self) -> bytes:
        """The summary now; no body (state unknown, §4.2.2) when the counts cannot be read."""
        try:
            async with asyncio.timeout(COUNTS_TIMEOUT):
                new, old = await self._counts.counts(self.user)
            self.told = (new, old)
            return MessageSummary(account=self.account, new=new, old=old).body()
        except Exception as exc:  # the store's failure (or a timeout) is not ours to raise
            log.warning("message counts of %s not read (%s): NOTIFY without a body", self.user, exc)
            self.told = UNKNOWN_COUNTS
            return b""

    # --- DialogHandler: the subscriber's requests in this dialog ---

    def on_request(
        self, request: SipRequest, server_tx: ServerTransaction | None, peer: Peer
    ) -> None:
        if server_tx is None:
            return  # an ACK has no business here
        if request.method != "SUBSCRIBE":
            refused = build_response(request, 405)
            refused.add_header("Allow", ALLOW)
            server_tx.respond(refused)
            return
        if not self.dialog.accepts_remote_cseq(request):
            server_tx.respond(build_response(request, 500, "Server Internal Error (CSeq)"))
            return
        try:
            event = parse_event(request)
        except SipParseError as exc:
            server_tx.respond(build_response(request, 400, f"Bad Request ({exc})"[:80]))
            return
        if event is None or event != self.event:
            server_tx.respond(build_response(request, 489))
            return
        expires = self._expires_rule.granted(request, server_tx)
        if expires is None:
            return
        self.peer = peer
        server_tx.respond(build_response(request, 200, headers=self._ok_headers(expires)))
        if expires == 0:
            self.end(TerminationReason.TIMEOUT)
        else:
            self._arm(expires)
            self._wake()

    def on_retransmitted_2xx(self, response: SipResponse, peer: Peer) -> None:
        return  # NOTIFY's 2xx are matched by their transactions

    def _ok_headers(self, expires: int) -> dict[str, str]:
        return {"Expires": str(expires), "Contact": f"<{self.dialog.local.contact_uri}>"}

    def accepted_headers(self, expires: int) -> dict[str, str]:
        """The 200 of the SUBSCRIBE that made it."""
        return self._ok_headers(expires)


__all__ = ["MessageCounts", "Subscription", "SubscriptionState"]

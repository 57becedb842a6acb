"""Message waiting (RFC 3842 over RFC 6665): phones SUBSCRIBE to ``message-summary`` for
their own user's voice messages and get a NOTIFY with the counts now and at each change.

A new SUBSCRIBE (not in a dialog) is checked in this order, each refusal stateless:
the package is offered (489 with ``Allow-Events`` for any other, 400 without ``Event``),
``Accept`` allows ``application/simple-message-summary`` (406), it has a Contact (400);
digest authentication as for REGISTER (401, or 403 while the guess throttle blocks); the
Request-URI names a user (404) and that user is the authenticated one (403: a user may
watch only its own mailbox); the duration is not below ``min_expires`` (423 with
``Min-Expires``, longer ones are cut to ``max_expires``); the server holds fewer than
``max_subscriptions`` (503 with Retry-After). A user's subscription over
``max_per_user`` ends its oldest one (``terminated;reason=rejected``).

Refreshes come in the subscription's dialog (:mod:`callbridge.engine.subscription`) and
are not challenged again: the dialog's tags (ours is 48 random bits) identify it.
The counts come from a :class:`~callbridge.engine.subscription.MessageCounts` given with
:meth:`MessageWaiting.serve`; until then the engine does not take SUBSCRIBE (405).  Changes
are told through :meth:`MessageWaiting.mailbox_changed` (this node's) and
:meth:`MessageWaiting.counts_now` (any node's, as a periodic check reads them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiosipua import SipRequest
from aiosipua.headers import parse_uri

from callbridge.engine.ports import SipStack
from callbridge.engine.subscription import MessageCounts, Subscription
from callbridge.engine.tasks import TaskOwner
from callbridge.sip.auth import AuthOutcome, DigestAuthenticator
from callbridge.sip.dialog import Dialog
from callbridge.sip.event_headers import (
    TerminationReason,
    accepts,
    parse_event,
    requested_expires,
)
from callbridge.sip.message import Peer, SipParseError, build_response, new_tag
from callbridge.sip.message_summary import CONTENT_TYPE, EVENT_PACKAGE
from callbridge.sip.transaction import ServerTransaction

log = logging.getLogger(__name__)

DEFAULT_EXPIRES = 3600  # RFC 3842 §4.2: message-summary's default duration
RETRY_AFTER = 60


@dataclass(frozen=True, kw_only=True)
class SubscriptionLimits:
    """``[mwi]`` (README): the durations granted and how many subscriptions are held."""

    min_expires: int = 60
    max_expires: int = 3600
    max_subscriptions: int = 10_000
    max_per_user: int = 8

    def __post_init__(self) -> None:
        if not 1 <= self.min_expires <= self.max_expires:
            raise ValueError("subscription durations need 1 <= min_expires <= max_expires")
        if self.max_subscriptions < 1 or self.max_per_user < 1:
            raise ValueError("subscription caps must be at least 1")


class MessageWaiting:
    """The notifier of every message-summary subscription; voicemail tells it of changes
    through :meth:`mailbox_changed` (its ``MessageWaitingNotifier`` port)."""

    def __init__(
        self,
        *,
        stack: SipStack,
        authenticator: DigestAuthenticator,
        password_for: Callable[[str], str | None],
        domain: str,
        limits: SubscriptionLimits,
    ) -> None:
        self._stack = stack
        self._auth = authenticator
        self._password_for = password_for
        self._domain = domain
        self.limits = limits
        self._counts: MessageCounts | None = None
        self._tasks = TaskOwner(name="message-waiting")
        self._held: dict[tuple[str, str, str], Subscription] = {}  # until its last NOTIFY
        self._by_user: dict[str, dict[tuple[str, str, str], Subscription]] = {}  # active
        self._full = False  # logged once each time the table fills
        self._closed = False

    def serve(self, counts: MessageCounts) -> None:
        """Offer message-summary from now on, with the counts read from ``counts``."""
        self._counts = counts

    @property
    def offered(self) -> bool:
        """Whether message-summary is served (else SUBSCRIBE is a method we do not know)."""
        return self._counts is not None

    @property
    def active(self) -> int:
        """Subscriptions in force."""
        return sum(len(each) for each in self._by_user.values())

    @property
    def held(self) -> int:
        """Subscriptions held, with those whose last NOTIFY is still under way."""
        return len(self._held)

    @property
    def tasks(self) -> int:
        """NOTIFY senders running."""
        return len(self._tasks)

    def subscribers(self, user: str) -> int:
        return len(self._by_user.get(user, {}))

    def subscriptions_of(self, user: str) -> tuple[Subscription, ...]:
        """The user's subscriptions in force, oldest first."""
        return tuple(self._by_user.get(user, {}).values())

    def mailbox_changed(self, users: Sequence[str]) -> None:
        """The messages of these users' mailboxes changed: NOTIFY their subscribers."""
        for user in users:
            for subscription in list(self._by_user.get(user, {}).values()):
                subscription.changed()

    def watched_users(self) -> tuple[str, ...]:
        """The users with a subscription in force here."""
        return tuple(self._by_user)

    def counts_now(self, user: str, new: int, old: int) -> None:
        """The user's counts as the store has them now (read by another node's change
        check): NOTIFY the subscriptions last told otherwise."""
        for subscription in list(self._by_user.get(user, {}).values()):
            if subscription.told not in (None, (new, old)):
                subscription.changed()

    async def close(self) -> None:
        self._closed = True
        for subscription in list(self._held.values()):
            subscription.close()
        await self._tasks.close()

    # --- a new SUBSCRIBE ---

    def on_subscribe(self, request: SipRequest, server_tx: ServerTransaction, peer: Peer) -> None:
        """Answer a SUBSCRIBE outside any dialog (a malformed one gets 400)."""
        try:
            self._subscribe(request, server_tx, peer)
        except ValueError as exc:  # SipParseError and what aiosipua's parsers raise
            log.info("SUBSCRIBE from %s refused: %s", peer.host, str(exc)[:120])
            if server_tx.pending:
                reason = "".join(c if c.isprintable() else "?" for c in str(exc)[:60])
                server_tx.respond(build_response(request, 400, f"Bad Request ({reason})"))

    def _subscribe(self, request: SipRequest, server_tx: ServerTransaction, peer: Peer) -> None:
        counts = self._counts
        event = parse_event(request)
        if event is None:
            raise SipParseError("no Event header")
        if counts is None:  # the engine answers 405 while nothing is served
            server_tx.respond(build_response(request, 489))
            return
        if event.package != EVENT_PACKAGE:
            bad_event = build_response(request, 489)
            bad_event.add_header("Allow-Events", EVENT_PACKAGE)
            server_tx.respond(bad_event)
            return
        if not accepts(request, CONTENT_TYPE):
            server_tx.respond(build_response(request, 406))
            return
        if not request.get_header("contact"):
            raise SipParseError("no Contact header")
        user = self._authenticated(request, server_tx, peer)
        if user is None:
            return
        expires = self.granted(request, server_tx)
        if expires is None:
            return
        if self._refused_for_room(request, server_tx):
            return
        if expires > 0:  # a fetch ends at once: it takes no one's place
            self._make_room_for(user)
        tag = new_tag()
        dialog = Dialog.as_uas(
            request=request, local_tag=tag, local=self._stack.local_for(peer.transport)
        )
        # NOTIFYs go where the SUBSCRIBE came from, never where a Record-Route points
        # (that would let a subscriber aim our NOTIFYs at any host).
        dialog.route_set.clear()
        subscription = Subscription(
            user=user,
            account=f"sip:{user}@{self._domain}",
            event=event,
            dialog=dialog,
            peer=peer,
            stack=self._stack,
            counts=counts,
            tasks=self._tasks,
            expires_rule=self,
            on_ended=self._ended,
            on_finished=self._finished,
        )
        self._held[subscription.key] = subscription
        self._by_user.setdefault(user, {})[subscription.key] = subscription
        ok = build_response(
            request, 200, to_tag=tag, headers=subscription.accepted_headers(expires)
        )
        server_tx.respond(ok)
        subscription.start(expires)

    def _authenticated(
        self, request: SipRequest, server_tx: ServerTransaction, peer: Peer
    ) -> str | None:
        """The user whose own mailbox this is, or None once refused (401/403/404)."""
        result = self._auth.verify(
            request.get_header("authorization"),
            method="SUBSCRIBE",
            password_for=self._password_for,
            source=peer.host,
        )
        if result.outcome is AuthOutcome.THROTTLED:
            server_tx.respond(build_response(request, 403, "Forbidden (too many failures)"))
            return None
        if result.outcome is not AuthOutcome.OK or not result.username:
            challenge = build_response(request, 401)
            challenge.add_header(
                "WWW-Authenticate",
                self._auth.challenge(stale=result.outcome is AuthOutcome.STALE),
            )
            server_tx.respond(challenge)
            return None
        mailbox = parse_uri(request.uri).user
        if not mailbox:
            server_tx.respond(build_response(request, 404, "Not Found (no user in the URI)"))
            return None
        if mailbox != result.username:
            server_tx.respond(build_response(request, 403, "Forbidden (not your mailbox)"))
            return None
        return result.username

    def granted(self, request: SipRequest, server_tx: ServerTransaction) -> int | None:
        """Seconds granted (0: unsubscribe or fetch); None once answered 400 or 423."""
        try:
            expires = requested_expires(request, default=DEFAULT_EXPIRES)
        except SipParseError as exc:
            server_tx.respond(build_response(request, 400, f"Bad Request ({exc})"[:80]))
            return None
        if expires == 0:
            return 0
        if expires < self.limits.min_expires:
            too_brief = build_response(request, 423, "Interval Too Brief")
            too_brief.add_header("Min-Expires", str(self.limits.min_expires))
            server_tx.respond(too_brief)
            return None
        return min(expires, self.limits.max_expires)

    def _refused_for_room(self, request: SipRequest, server_tx: ServerTransaction) -> bool:
        """503 with Retry-After when ``max_subscriptions`` are held (or shutting down)."""
        full = len(self._held) >= self.limits.max_subscriptions
        if full and not self._full:
            log.warning("%d subscriptions held: new ones get 503", len(self._held))
        self._full = full
        if not (full or self._closed):
            return False
        busy = build_response(request, 503)
        busy.add_header("Retry-After", str(RETRY_AFTER))
        server_tx.respond(busy)
        return True

    def _make_room_for(self, user: str) -> None:
        """At ``max_per_user``, the user's oldest subscription ends (``rejected``)."""
        mine = self._by_user.get(user, {})
        while len(mine) >= self.limits.max_per_user:
            oldest = next(iter(mine.values()))
            log.info("user %s over %d subscriptions: the oldest ends", user, len(mine))
            oldest.end(TerminationReason.REJECTED)

    # --- Subscription callbacks ---

    def _ended(self, subscription: Subscription) -> None:
        mine = self._by_user.get(subscription.user)
        if mine is not None:
            mine.pop(subscription.key, None)
            if not mine:
                del self._by_user[subscription.user]

    def _finished(self, subscription: Subscription) -> None:
        if self._held.get(subscription.key) is subscription:
            del self._held[subscription.key]


__all__ = ["MessageCounts", "MessageWaiting", "SubscriptionLimits"]

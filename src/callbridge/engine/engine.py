"""The telephony engine: owns the SIP stack, the registrar and the media plane, and hands
call legs to the layers above (originate, incoming calls, bridge)."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiosipua import SipRequest, SipResponse

from callbridge.engine.admission import LagReading, RequestGate
from callbridge.engine.bye import byes_answered
from callbridge.engine.dialog_keys import request_dialog_key, response_dialog_key
from callbridge.engine.events import Direction, Ended
from callbridge.engine.incoming_call import IncomingCall, IncomingCallHandler, IncomingInvites
from callbridge.engine.invite_auth import InviteAuthenticator
from callbridge.engine.leg import CallLeg, PartyInfo
from callbridge.engine.media_ports import MediaPlane
from callbridge.engine.message_waiting import MessageWaiting, SubscriptionLimits
from callbridge.engine.originate_checks import check_originate
from callbridge.engine.ports import DialogHandler, SpeechSynthesizer
from callbridge.engine.request_guard import FailureLog, answered_on_failure
from callbridge.engine.routing import Destination, Router, Trunk, UserOffline
from callbridge.engine.stale_dialog import end_stale_dialog
from callbridge.engine.tasks import TaskOwner
from callbridge.engine.uac import OutboundCall
from callbridge.sip.auth import DigestAuthenticator
from callbridge.sip.counts import SipCounts
from callbridge.sip.dialog import DialogSnapshot, LocalContact
from callbridge.sip.guesses import GuessLimits, GuessThrottle
from callbridge.sip.message import Peer, build_response
from callbridge.sip.pike import Pike, PikeLimits
from callbridge.sip.registrar import Registrar
from callbridge.sip.session_timer import SessionTimerPolicy
from callbridge.sip.tcp import TcpLimits
from callbridge.sip.transaction import (
    ClientTransaction,
    ServerTransaction,
    Timers,
    TransactionLayer,
)
from callbridge.sip.transport import SipTransport

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER"


@dataclass(frozen=True)
class EngineSettings:
    host: str
    port: int
    advertised_host: str | None = None
    realm: str = "callbridge"
    users: tuple[tuple[str, str], ...] = ()  # (extension, password)
    trunks: tuple[Trunk, ...] = ()
    timers: Timers = field(default_factory=Timers)
    max_server_transactions: int = 2000
    default_ring_timeout: float = 30.0
    # Load shedding and the digest throttle (None: off); config.py sets them for the server.
    pike: PikeLimits | None = None
    overload_lag: float | None = None  # seconds
    guesses: GuessLimits | None = None
    session_timers: SessionTimerPolicy = field(default_factory=SessionTimerPolicy)
    tcp_limits: TcpLimits = field(default_factory=TcpLimits)
    subscriptions: SubscriptionLimits = field(default_factory=SubscriptionLimits)


class Engine:
    def __init__(
        self,
        *,
        settings: EngineSettings,
        media: MediaPlane,
        tts: SpeechSynthesizer,
        auth_secret: bytes | None = None,
        lag: LagReading | None = None,
    ) -> None:
        self.settings = settings
        self.media = media
        self._tts = tts
        throttle = GuessThrottle(limits=settings.guesses) if settings.guesses else None
        self.authenticator = DigestAuthenticator(
            realm=settings.realm, secret=auth_secret, throttle=throttle
        )
        self.registrar = Registrar(passwords=dict(settings.users), authenticator=self.authenticator)
        self._invite_auth = InviteAuthenticator(
            authenticator=self.authenticator,
            password_for=self.registrar.password_for,
            domains=(settings.host, settings.advertised_host or "", settings.realm),
        )
        domain = settings.advertised_host or settings.host
        self.router = Router(registrar=self.registrar, trunks=settings.trunks, domain=domain)
        self.gate = RequestGate(
            in_live_dialog=self._in_live_dialog,
            pike=Pike(limits=settings.pike) if settings.pike else None,
            trunk_of=self.router.trunk_from,
            lag=lag,
            max_lag=settings.overload_lag,
        )
        self.message_waiting = MessageWaiting(
            stack=self,
            authenticator=self.authenticator,
            password_for=self.registrar.password_for,
            domain=domain,
            limits=settings.subscriptions,
        )
        self._transport = SipTransport(on_message=self._on_datagram, tcp_limits=settings.tcp_limits)
        self._transactions = TransactionLayer(
            transport=self._transport,
            timers=settings.timers,
            on_request=self._on_request,
            on_unmatched_response=self._on_unmatched_response,
            max_server_transactions=settings.max_server_transactions,
            gate=self.gate,
        )
        self._dialogs: dict[tuple[str, str, str], DialogHandler] = {}
        self.legs: dict[str, CallLeg] = {}
        self._leg_watchers: list[Callable[[CallLeg], None]] = []
        self._tasks = TaskOwner(name="engine")
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(4)
        self._refuse_retry_after: float | None = None  # set when shutting down
        self._failures = FailureLog()
        self._serving = False
        self._incoming = IncomingInvites(
            router=self.router,
            invite_auth=self._invite_auth,
            session_timers=settings.session_timers,
            media=media,
            stack=self,
            tts=tts,
            new_leg_id=self._new_leg_id,
            track=self._track,
        )

    # --- lifecycle ---

    def set_incoming_handler(self, handler: IncomingCallHandler) -> None:
        self._incoming.handler = handler

    async def start(self) -> None:
        await self._transport.start(self.settings.host, self.settings.port)
        self._serving = True

    def refusal(self) -> str | None:
        """Why the engine refuses every new request now (``/health``), or None when it serves."""
        if not self._serving:
            return "SIP is not serving"
        pending, limit = self.pending_requests, self.settings.max_server_transactions
        if pending >= limit:
            return f"SIP transaction table full ({pending} of {limit} unanswered): 503 to all"
        return None

    @property
    def pending_requests(self) -> int:
        """Server transactions still waiting for our final response."""
        return self._transactions.pending_server_count

    @property
    def sip_counts(self) -> SipCounts:
        """Requests received by method, responses sent by code (``/metrics``)."""
        return self._transactions.counts

    @property
    def server_transactions(self) -> int:
        """Server transactions held, with those only absorbing retransmissions."""
        return self._transactions.server_count

    def refuse_new_calls(self, *, retry_after: float) -> None:
        """A new INVITE gets 503 with Retry-After from now on (shutting down)."""
        self._refuse_retry_after = retry_after

    @property
    def drain_retry_after(self) -> float | None:
        """While shutting down: the Retry-After (seconds) new INVITEs get; else None."""
        return self._refuse_retry_after

    async def close(self) -> None:
        self._serving = False
        for leg in list(self.legs.values()):
            if leg.ended is None:
                leg.tasks.spawn(leg.hangup(), name=f"shutdown {leg.id}")
        await asyncio.sleep(0)
        await self._tasks.close()
        await self.message_waiting.close()
        for leg in list(self.legs.values()):
            await leg.close()
        await byes_answered(self._dialogs.values(), timeout=self.timers.timeout)
        await self._transactions.close()
        await self._transport.close()
        await self.media.close()

    # --- SipStack port (used by leg signalling) ---

    @property
    def timers(self) -> Timers:
        return self.settings.timers

    @property
    def session_timers(self) -> SessionTimerPolicy:
        return self.settings.session_timers

    def local_for(self, transport: str) -> LocalContact:
        host = self.settings.advertised_host or self.settings.host
        return LocalContact(host=host, port=self.settings.port, transport=transport)

    def send_request(self, request: SipRequest, peer: Peer) -> ClientTransaction:
        return self._transactions.send_request(request, peer)

    def send_raw(self, message: SipRequest | SipResponse, peer: Peer) -> None:
        self._transport.send(bytes(message), peer)

    async def end_stale_dialog(self, snapshot: DialogSnapshot) -> int:
        """BYE a dialog a previous run left up (:mod:`callbridge.engine.stale_dialog`)."""
        return await end_stale_dialog(self, snapshot)

    def register_dialog(self, key: tuple[str, str, str], handler: DialogHandler) -> None:
        self._dialogs[key] = handler

    def unregister_dialog(self, key: tuple[str, str, str]) -> None:
        self._dialogs.pop(key, None)

    # --- legs ---

    def _new_leg_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    def watch_legs(self, watcher: Callable[[CallLeg], None]) -> None:
        """Call ``watcher`` with every new leg, inbound or outbound, as it is tracked
        (presence subscribes to each leg's events this way)."""
        self._leg_watchers.append(watcher)

    def _track(self, leg: CallLeg) -> None:
        self.legs[leg.id] = leg
        for watcher in self._leg_watchers:
            watcher(leg)

        def on_event(event: object) -> None:
            if isinstance(event, Ended):
                self._tasks.spawn(self._reap(leg), name=f"reap {leg.id}")

        leg.subscribe(on_event)

    async def _reap(self, leg: CallLeg) -> None:
        self.media.unbridge(leg.media)
        # Let signalling finish its wind-down (the BYE sent, 487 ACK) before releasing.
        await asyncio.sleep(0)
        self.legs.pop(leg.id, None)
        await leg.close()

    async def originate(
        self,
        to: str,
        *,
        caller_id: str = "callbridge",
        caller_name: str | None = None,
        ring_timeout: float | None = None,
        headers: dict[str, str] | None = None,
        trunk: str | None = None,
        contact: Destination | None = None,
    ) -> CallLeg:
        """Start calling ``to`` (an extension, a number via a trunk, or a SIP URI) with
        one INVITE; ``contact``: which phone of user ``to`` (one of :meth:`user_contacts`).

        Returns at once with the leg; watch its events or ``await leg.wait_answered()``.
        Raises InvalidOriginate, RoutingError (NoRoute, UserOffline, SeveralContacts for a
        user with several phones and no ``contact``) or MediaPortsExhausted before dialling.
        """
        check_originate(caller_id=caller_id, caller_name=caller_name, headers=headers)
        if contact is None:
            destination = await self.router.resolve(to, trunk=trunk)
        elif contact in self.router.contacts(to):
            destination = contact
        else:
            raise UserOffline(f"{contact.label or 'that phone'} is no longer registered")
        endpoint = await self.media.allocate()
        leg = CallLeg(
            leg_id=self._new_leg_id(),
            direction=Direction.OUTBOUND,
            caller=PartyInfo(
                uri=f"sip:{caller_id}@{self.settings.host}",
                user=caller_id,
                display_name=caller_name,
            ),
            callee=PartyInfo(uri=destination.to_uri, user=to),
            media=endpoint,
            tts=self._tts,
        )
        signalling = OutboundCall(
            leg=leg,
            stack=self,
            destination=destination,
            caller=leg.caller,
            ring_timeout=ring_timeout or self.settings.default_ring_timeout,
            extra_headers=headers,
        )
        leg.signalling = signalling
        self._track(leg)
        await signalling.start()
        return leg

    def user_contacts(self, to: str) -> tuple[Destination, ...] | None:
        """The registered phones of user ``to``, one destination each, most recently
        registered first (each is rung by ``originate(to, contact=...)``); None when ``to``
        is no user.  Raises UserOffline for a user with no phone registered."""
        to = to.strip()
        if not self.router.is_extension(to):
            return None
        return self.router.contacts(to)

    def bridge(self, a: CallLeg, b: CallLeg) -> None:
        """Connect two answered legs' audio (and DTMF) both ways."""
        self.media.bridge(a.media, b.media)

    def unbridge(self, a: CallLeg) -> None:
        """Undo :meth:`bridge` for the pair that holds ``a`` (no-op when not bridged)."""
        self.media.unbridge(a.media)

    # --- incoming SIP ---

    def _on_datagram(self, data: bytes, peer: Peer) -> None:
        if self.gate.screen(data, peer):
            self._transactions.receive(data, peer)

    def _in_live_dialog(self, request: SipRequest) -> bool:
        key = request_dialog_key(request)
        return key is not None and key in self._dialogs

    def _on_unmatched_response(self, response: SipResponse, peer: Peer) -> None:
        key = response_dialog_key(response)
        handler = self._dialogs.get(key) if key else None
        if handler is not None and response.status_code < 300:
            handler.on_retransmitted_2xx(response, peer)

    def _on_request(
        self, request: SipRequest, server_tx: ServerTransaction | None, peer: Peer
    ) -> None:
        key = request_dialog_key(request)
        if key is not None:
            handler = self._dialogs.get(key)
            if handler is not None:
                handler.on_request(request, server_tx, peer)
            elif server_tx is not None:
                server_tx.respond(build_response(request, 481))
            return
        if server_tx is None:
            return  # a stray ACK
        if request.method == "REGISTER":
            self._serve(self._register(request, server_tx, peer), request, server_tx, peer)
        elif request.method == "SUBSCRIBE" and self.message_waiting.offered:
            self.message_waiting.on_subscribe(request, server_tx, peer)
        elif request.method == "OPTIONS":
            response = build_response(request, 200)
            response.add_header("Allow", self._allow)
            response.add_header("Accept", "application/sdp")
            server_tx.respond(response)
        elif request.method == "INVITE" and self._refuse_retry_after is not None:
            unavailable = build_response(request, 503)
            unavailable.add_header("Retry-After", str(max(1, round(self._refuse_retry_after))))
            server_tx.respond(unavailable)
        elif request.method == "INVITE":
            self._serve(self._incoming.answer(request, server_tx, peer), request, server_tx, peer)
        elif request.method in ("BYE", "INFO", "UPDATE", "PRACK"):
            server_tx.respond(build_response(request, 481))
        else:
            response = build_response(request, 405)
            response.add_header("Allow", self._allow)
            server_tx.respond(response)

    @property
    def _allow(self) -> str:
        return ALLOW + (", SUBSCRIBE" if self.message_waiting.offered else "")

    def _serve(
        self,
        handling: Coroutine[Any, Any, None],
        request: SipRequest,
        server_tx: ServerTransaction,
        peer: Peer,
    ) -> None:
        """Handle ``request`` in a task whose failure still answers it (400/500)."""
        guarded = answered_on_failure(
            handling, request=request, server_tx=server_tx, peer=peer, failures=self._failures
        )
        self._tasks.spawn(guarded, name=request.method.lower())

    async def _register(
        self, request: SipRequest, server_tx: ServerTransaction, peer: Peer
    ) -> None:
        answer = self.registrar.handle(request, peer)
        if answer.delay:  # held back, but answered before the client gives up (Timer F)
            await asyncio.sleep(min(answer.delay, self.timers.timeout / 2))
        server_tx.respond(answer.response)


__all__: Sequence[str] = ("Engine", "EngineSettings", "IncomingCall", "IncomingCallHandler")

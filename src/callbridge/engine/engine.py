"""The telephony engine: owns the SIP stack, the registrar and the media plane, and hands
call legs to the layers above (originate, incoming calls, bridge)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiosipua import SipRequest, SipResponse
from aiosipua.headers import parse_address

from callbridge.engine.events import Direction, Ended, EndReason
from callbridge.engine.leg import CallLeg, PartyInfo
from callbridge.engine.originate_checks import check_originate
from callbridge.engine.ports import DialogHandler, SpeechSynthesizer
from callbridge.engine.routing import Router, Trunk
from callbridge.engine.stale_dialog import end_stale_dialog
from callbridge.engine.tasks import TaskOwner
from callbridge.engine.uac import OutboundCall
from callbridge.engine.uas import InboundCall
from callbridge.media.plane import MediaPlane, MediaPortsExhausted
from callbridge.sip.auth import AuthOutcome, DigestAuthenticator
from callbridge.sip.dialog import DialogSnapshot, LocalContact
from callbridge.sip.message import Peer, build_response
from callbridge.sip.registrar import Registrar
from callbridge.sip.sdp import SdpNegotiationError, build_answer
from callbridge.sip.tcp import TcpLimits
from callbridge.sip.transaction import (
    ClientTransaction,
    ServerTransaction,
    Timers,
    TransactionLayer,
)
from callbridge.sip.transport import SipTransport

log = logging.getLogger(__name__)

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REGISTER"


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
    tcp_limits: TcpLimits = field(default_factory=TcpLimits)


@dataclass(frozen=True)
class IncomingCall:
    """An INVITE that is not part of a dialog, as the application sees it."""

    leg: CallLeg
    dialled: str
    authenticated_user: str | None
    request: SipRequest


class IncomingCallHandler(Protocol):
    async def handle(self, call: IncomingCall) -> None: ...


class Engine:
    def __init__(
        self,
        *,
        settings: EngineSettings,
        media: MediaPlane,
        tts: SpeechSynthesizer,
        auth_secret: bytes | None = None,
    ) -> None:
        self.settings = settings
        self.media = media
        self._tts = tts
        self.authenticator = DigestAuthenticator(realm=settings.realm, secret=auth_secret)
        self.registrar = Registrar(passwords=dict(settings.users), authenticator=self.authenticator)
        self.router = Router(
            registrar=self.registrar,
            trunks=settings.trunks,
            domain=settings.advertised_host or settings.host,
        )
        self._transport = SipTransport(on_message=self._on_datagram, tcp_limits=settings.tcp_limits)
        self._transactions = TransactionLayer(
            transport=self._transport,
            timers=settings.timers,
            on_request=self._on_request,
            on_unmatched_response=self._on_unmatched_response,
            max_server_transactions=settings.max_server_transactions,
        )
        self._dialogs: dict[tuple[str, str, str], DialogHandler] = {}
        self.legs: dict[str, CallLeg] = {}
        self._tasks = TaskOwner(name="engine")
        self._handler: IncomingCallHandler | None = None
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(4)

    # --- lifecycle ---

    def set_incoming_handler(self, handler: IncomingCallHandler) -> None:
        self._handler = handler

    async def start(self) -> None:
        await self._transport.start(self.settings.host, self.settings.port)

    async def close(self) -> None:
        for leg in list(self.legs.values()):
            if leg.ended is None:
                leg.tasks.spawn(leg.hangup(), name=f"shutdown {leg.id}")
        await asyncio.sleep(0)
        await self._tasks.close()
        for leg in list(self.legs.values()):
            await leg.close()
        await self._transactions.close()
        await self._transport.close()
        await self.media.close()

    # --- SipStack port (used by leg signalling) ---

    @property
    def timers(self) -> Timers:
        return self.settings.timers

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

    def _track(self, leg: CallLeg) -> None:
        self.legs[leg.id] = leg

        def on_event(event: object) -> None:
            if isinstance(event, Ended):
                self._tasks.spawn(self._reap(leg), name=f"reap {leg.id}")

        leg.subscribe(on_event)

    async def _reap(self, leg: CallLeg) -> None:
        self.media.unbridge(leg.media)
        # Let signalling finish its wind-down (BYE answer, 487 ACK) before releasing.
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
    ) -> CallLeg:
        """Start calling ``to`` (an extension, a number via a trunk, or a SIP URI).

        Returns at once with the leg; watch its events or ``await leg.wait_answered()``.
        Raises InvalidOriginate, RoutingError (NoRoute, UserOffline) or MediaPortsExhausted
        before dialling.
        """
        check_originate(caller_id=caller_id, caller_name=caller_name, headers=headers)
        destinations = await self.router.resolve(to, trunk=trunk)
        endpoint = await self.media.allocate()
        leg = CallLeg(
            leg_id=self._new_leg_id(),
            direction=Direction.OUTBOUND,
            caller=PartyInfo(
                uri=f"sip:{caller_id}@{self.settings.host}",
                user=caller_id,
                display_name=caller_name,
            ),
            callee=PartyInfo(uri=destinations[0].to_uri, user=to),
            media=endpoint,
            tts=self._tts,
        )
        signalling = OutboundCall(
            leg=leg,
            stack=self,
            codecs=self.media.codecs,
            destinations=destinations,
            caller=leg.caller,
            ring_timeout=ring_timeout or self.settings.default_ring_timeout,
            extra_headers=headers,
        )
        leg.signalling = signalling
        self._track(leg)
        signalling.start()
        return leg

    def bridge(self, a: CallLeg, b: CallLeg) -> None:
        """Connect two answered legs' audio (and DTMF) both ways."""
        self.media.bridge(a.media, b.media)

    # --- incoming SIP ---

    def _on_datagram(self, data: bytes, peer: Peer) -> None:
        self._transactions.receive(data, peer)

    def _on_unmatched_response(self, response: SipResponse, peer: Peer) -> None:
        key = _response_dialog_key(response)
        handler = self._dialogs.get(key) if key else None
        if handler is not None and response.status_code < 300:
            handler.on_retransmitted_2xx(response, peer)

    def _on_request(
        self, request: SipRequest, server_tx: ServerTransaction | None, peer: Peer
    ) -> None:
        key = _request_dialog_key(request)
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
            self._tasks.spawn(self._register(request, server_tx, peer), name="register")
        elif request.method == "OPTIONS":
            response = build_response(request, 200)
            response.add_header("Allow", ALLOW)
            response.add_header("Accept", "application/sdp")
            server_tx.respond(response)
        elif request.method == "INVITE":
            self._tasks.spawn(self._incoming_invite(request, server_tx, peer), name="invite")
        elif request.method in ("BYE", "INFO", "UPDATE", "PRACK"):
            server_tx.respond(build_response(request, 481))
        else:
            response = build_response(request, 405)
            response.add_header("Allow", ALLOW)
            server_tx.respond(response)

    async def _register(
        self, request: SipRequest, server_tx: ServerTransaction, peer: Peer
    ) -> None:
        answer = self.registrar.handle(request, peer)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        server_tx.respond(answer.response)

    def _invite_caller(self, request: SipRequest) -> tuple[str | None, SipResponse | None]:
        """INVITEs from our own users must authenticate (407, §22.3); others may only call in."""
        caller = parse_address(request.get_header("from") or "").uri.user or ""
        if not self.registrar.is_user(caller):
            return None, None
        result = self.authenticator.verify(
            request.get_header("proxy-authorization"),
            method="INVITE",
            password_for=self.registrar.password_for,
        )
        if result.outcome is AuthOutcome.OK and result.username == caller:
            return caller, None
        challenge = build_response(request, 407)
        challenge.add_header(
            "Proxy-Authenticate",
            self.authenticator.challenge(stale=result.outcome is AuthOutcome.STALE),
        )
        return None, challenge

    async def _incoming_invite(
        self, request: SipRequest, server_tx: ServerTransaction, peer: Peer
    ) -> None:
        user, challenge = self._invite_caller(request)
        if challenge is not None:
            server_tx.respond(challenge)
            return
        if not request.body:
            server_tx.respond(build_response(request, 488, "Not Acceptable Here (offer required)"))
            return
        try:
            endpoint = await self.media.allocate()
        except MediaPortsExhausted:
            busy = build_response(request, 503)
            busy.add_header("Retry-After", "5")
            server_tx.respond(busy)
            return
        try:
            answer, remote = build_answer(
                request.body,
                host=endpoint.local_host,
                port=endpoint.local_port,
                codecs=self.media.codecs,
            )
        except SdpNegotiationError as exc:
            await endpoint.close()
            server_tx.respond(build_response(request, 488, f"Not Acceptable Here ({exc})"[:80]))
            return
        leg = self._inbound_leg(request, endpoint)
        leg.signalling = InboundCall(
            leg=leg,
            stack=self,
            codecs=self.media.codecs,
            request=request,
            server_tx=server_tx,
            peer=peer,
            local=self.local_for(peer.transport),
            answer_sdp=answer,
            remote_media=remote,
        )
        self._track(leg)
        dialled = _dialled_user(request)
        await self._run_handler(IncomingCall(leg, dialled, user, request))

    def _inbound_leg(self, request: SipRequest, endpoint: object) -> CallLeg:
        caller = parse_address(request.get_header("from") or "")
        callee_user = _dialled_user(request)
        leg = CallLeg(
            leg_id=self._new_leg_id(),
            direction=Direction.INBOUND,
            caller=PartyInfo(
                uri=f"sip:{caller.uri.user or ''}@{caller.uri.host}",
                user=caller.uri.user or "",
                display_name=caller.display_name,
            ),
            callee=PartyInfo(uri=request.uri, user=callee_user),
            media=endpoint,  # type: ignore[arg-type]
            tts=self._tts,
        )
        leg.sip_call_id = request.call_id
        return leg

    async def _run_handler(self, call: IncomingCall) -> None:
        leg = call.leg
        try:
            if self._handler is None:
                await leg.hangup(EndReason.FAILED, 480)
                return
            await self._handler.handle(call)
        except Exception:
            log.exception("incoming call handler failed on %r", leg)
            if leg.ended is None:
                await leg.hangup(EndReason.FAILED, 500)


def _tag(header: str | None) -> str:
    return (parse_address(header).tag or "") if header else ""


def _request_dialog_key(request: SipRequest) -> tuple[str, str, str] | None:
    """§12.2.2: an in-dialog request carries our tag in To."""
    local = _tag(request.get_header("to"))
    if not local:
        return None
    return (request.call_id or "", local, _tag(request.get_header("from")))


def _response_dialog_key(response: SipResponse) -> tuple[str, str, str] | None:
    local, remote = _tag(response.get_header("from")), _tag(response.get_header("to"))
    return (response.call_id or "", local, remote) if local and remote else None


def _dialled_user(request: SipRequest) -> str:
    user = request.uri.split(":", 1)[-1].split("@", 1)[0]
    return user.split(";", 1)[0]


__all__: Sequence[str] = ("Engine", "EngineSettings", "IncomingCall", "IncomingCallHandler")

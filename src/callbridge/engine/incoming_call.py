"""An INVITE outside any dialog: its caller authenticated (or its trunk known), its offer
and session timer checked, a media endpoint allocated, the leg made and handed to the
application's :class:`IncomingCallHandler`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiosipua import SipRequest

from callbridge.engine.events import EndReason
from callbridge.engine.inbound_leg import dialled_user, inbound_leg
from callbridge.engine.invite_auth import InviteAuthenticator
from callbridge.engine.leg import CallLeg
from callbridge.engine.media_ports import MediaPlane
from callbridge.engine.ports import SipStack, SpeechSynthesizer
from callbridge.engine.routing import Router, Trunk
from callbridge.log_context import bind_leg
from callbridge.media.plane import MediaPortsExhausted
from callbridge.sip.message import Peer, build_response
from callbridge.sip.sdp import SdpNegotiationError
from callbridge.sip.session_timer import SessionTimerPolicy, negotiate
from callbridge.sip.transaction import ServerTransaction

log = logging.getLogger("callbridge.engine.engine")  # its lines keep the engine's name


@dataclass(frozen=True)
class IncomingCall:
    """An INVITE that is not part of a dialog, as the application sees it; ``trunk`` is
    the trunk it came from (its source is in the trunk's inbound networks)."""

    leg: CallLeg
    dialled: str
    authenticated_user: str | None
    request: SipRequest
    trunk: Trunk | None = None


class IncomingCallHandler(Protocol):
    async def handle(self, call: IncomingCall) -> None: ...


class IncomingInvites:
    """The engine's answerer of new INVITEs; ``new_leg_id`` names a leg, ``track`` makes
    the engine follow it (until it ends).  Without a :attr:`handler` a call gets 480."""

    def __init__(
        self,
        *,
        router: Router,
        invite_auth: InviteAuthenticator,
        session_timers: SessionTimerPolicy,
        media: MediaPlane,
        stack: SipStack,
        tts: SpeechSynthesizer,
        new_leg_id: Callable[[], str],
        track: Callable[[CallLeg], None],
    ) -> None:
        self._router = router
        self._invite_auth = invite_auth
        self._session_timers = session_timers
        self._media = media
        self._stack = stack
        self._tts = tts
        self._new_leg_id = new_leg_id
        self._track = track
        self.handler: IncomingCallHandler | None = None

    async def answer(self, request: SipRequest, server_tx: ServerTransaction, peer: Peer) -> None:
        trunk = self._router.trunk_from(peer.host)
        user, challenge = self._invite_auth.caller(request, peer, from_trunk=trunk is not None)
        if challenge is not None:
            server_tx.respond(challenge)
            return
        if not request.body:
            server_tx.respond(build_response(request, 488, "Not Acceptable Here (offer required)"))
            return
        session_interval, refusal = negotiate(request, self._session_timers)
        if refusal is not None:  # 422: its Session-Expires is below our Min-SE (RFC 4028 §9)
            server_tx.respond(refusal)
            return
        try:
            endpoint = await self._media.allocate()
        except MediaPortsExhausted:
            busy = build_response(request, 503)
            busy.add_header("Retry-After", "5")
            server_tx.respond(busy)
            return
        try:
            leg = await inbound_leg(
                leg_id=self._new_leg_id(),
                request=request,
                server_tx=server_tx,
                peer=peer,
                endpoint=endpoint,
                stack=self._stack,
                tts=self._tts,
                session_interval=session_interval,
            )
        except SdpNegotiationError as exc:
            await endpoint.close()
            server_tx.respond(build_response(request, 488, f"Not Acceptable Here ({exc})"[:80]))
            return
        except BaseException:
            await endpoint.close()  # the caller answers 400/500; the port goes back now
            raise
        self._track(leg)
        bind_leg(leg.id)  # this task's log lines, and its children's, name the leg
        await self._run_handler(IncomingCall(leg, dialled_user(request), user, request, trunk))

    async def _run_handler(self, call: IncomingCall) -> None:
        leg = call.leg
        try:
            if self.handler is None:
                await leg.hangup(EndReason.FAILED, 480)
                return
            await self.handler.handle(call)
        except Exception:
            log.exception("incoming call handler failed on %r", leg)
            if leg.ended is None:
                await leg.hangup(EndReason.FAILED, 500)

"""Behaviour shared by both sides of an established dialog (RFC 3261 §12.2, §14, §15),
with its session timer (RFC 4028 §9, §10)."""

from __future__ import annotations

import asyncio
import logging
import random

from aiosipua import SipRequest, SipResponse

from callbridge.engine.bye import send_bye
from callbridge.engine.events import Ended, EndReason, LegEvent, Party
from callbridge.engine.leg import CallLeg
from callbridge.engine.ports import SipStack
from callbridge.engine.session_expiry import SessionExpiry
from callbridge.media.plane import MediaDialog
from callbridge.sip.dialog import Dialog
from callbridge.sip.message import Peer, build_response
from callbridge.sip.sdp import SdpNegotiationError
from callbridge.sip.session_timer import (
    Refresher,
    SessionInterval,
    SessionTimerError,
    accept_response,
    interval_after_422,
    negotiate,
    request_headers,
    response_headers,
)
from callbridge.sip.transaction import ServerTransaction

log = logging.getLogger(__name__)

SDP = "application/sdp"
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"


class DialogSession:
    """In-dialog requests for one leg: BYE, re-INVITE, INFO, OPTIONS, ACK; and sending BYE."""

    def __init__(self, *, leg: CallLeg, stack: SipStack) -> None:
        self.leg = leg
        self.stack = stack
        self.dialog: Dialog | None = None
        self.media_dialog: MediaDialog | None = None  # as the dialog-creating INVITE names it
        self.local_sdp: bytes = b""  # the SDP we sent last
        self.ack_received = asyncio.Event()
        self.session_expiry = SessionExpiry(
            on_refresh_due=self._refresh_due, on_expired=self._session_expired
        )
        self.peer_allows_update = False  # refreshes go as UPDATE (RFC 3311), else re-INVITE
        self._refresh_ack: SipRequest | None = None
        leg.subscribe(self._on_leg_event)

    def _on_leg_event(self, event: LegEvent) -> None:
        if isinstance(event, Ended):
            self.session_expiry.stop()

    def _confirm(self, dialog: Dialog) -> None:
        self.dialog = dialog
        self.stack.register_dialog(dialog.key, self)

    def _release(self) -> None:
        if self.dialog is not None:
            self.stack.unregister_dialog(self.dialog.key)

    def on_retransmitted_2xx(self, response: SipResponse, peer: Peer) -> None:
        """A 2xx to our last refresh re-INVITE again: its ACK was lost (§13.2.2.4)."""
        ack, cseq = self._refresh_ack, response.cseq
        if ack is not None and ack.cseq and cseq and cseq.seq == ack.cseq.seq and self.dialog:
            self.stack.send_raw(ack, self.dialog.next_hop())

    def on_request(
        self, request: SipRequest, server_tx: ServerTransaction | None, peer: Peer
    ) -> None:
        if request.method == "ACK":
            self.ack_received.set()
            return
        if server_tx is None:
            return
        if self.dialog is not None and not self.dialog.accepts_remote_cseq(request):
            server_tx.respond(build_response(request, 500, "Server Internal Error (CSeq order)"))
            return
        if request.method in ("INVITE", "UPDATE"):
            self._spawn_reinvite(request, server_tx)
            return
        handler = {
            "BYE": self._on_bye,
            "INFO": self._on_info,
            "OPTIONS": self._on_options,
        }.get(request.method)
        if handler is None:
            response = build_response(request, 501)
            response.add_header("Allow", ALLOW)
            server_tx.respond(response)
            return
        handler(request, server_tx)

    def _on_bye(self, request: SipRequest, server_tx: ServerTransaction) -> None:
        """§15.1.2: answer 200 and end the leg, the peer hung up."""
        server_tx.respond(build_response(request, 200))
        self._release()
        self.leg.advance(Ended(EndReason.HUNG_UP, Party.REMOTE, None, "BYE"))

    def _on_options(self, request: SipRequest, server_tx: ServerTransaction) -> None:
        server_tx.respond(build_response(request, 200))

    def _on_info(self, request: SipRequest, server_tx: ServerTransaction) -> None:
        server_tx.respond(build_response(request, 200))

    def _spawn_reinvite(self, request: SipRequest, server_tx: ServerTransaction) -> None:
        """The media plane answers asynchronously: in the leg's task set, and a request
        that reaches a leg already closed gets 481 (its dialog is gone)."""
        try:
            self.leg.tasks.spawn(
                self._answer_reinvite(request, server_tx), name=f"re-INVITE {self.leg.id}"
            )
        except RuntimeError:
            server_tx.respond(build_response(request, 481))

    async def _answer_reinvite(self, request: SipRequest, server_tx: ServerTransaction) -> None:
        answered = False
        try:
            answered = await self._on_reinvite(request, server_tx)
        finally:
            if not answered:  # cancelled or failed before its final response
                server_tx.respond(build_response(request, 500))

    async def _on_reinvite(self, request: SipRequest, server_tx: ServerTransaction) -> bool:
        """§14.2: answer a re-INVITE or UPDATE (hold, session refresh) with the media
        plane's answer; the session timer starts again (RFC 4028 §9).  An offerless
        re-INVITE gets the plane's offer (our previous SDP, RFC 3264 §8), an offerless
        UPDATE (RFC 3311) none.  True once a final response went out."""
        interval, refusal = negotiate(request, self.stack.session_timers)
        if refusal is not None:
            server_tx.respond(refusal)
            return True
        assert self.dialog is not None, "registered once confirmed"
        assert self.media_dialog is not None, "set with the dialog"
        body = b""
        if request.body:
            try:
                body = await self.leg.media.answer(self.media_dialog, request.body)
            except SdpNegotiationError:
                server_tx.respond(build_response(request, 488))
                return True
            self.leg.media.answer_sent(self.media_dialog)
        elif request.method == "INVITE":
            body = await self.leg.media.offer(self.media_dialog)
        response = build_response(request, 200, to_tag=self.dialog.local_tag)
        response.add_header("Contact", f"<{self.dialog.local.contact_uri}>")
        for name, value in response_headers(interval, request):
            response.add_header(name, value)
        if body:
            response.add_header("Content-Type", SDP)
            response.body = self.local_sdp = body
        server_tx.respond(response)
        self.start_session_timer(interval, we_refresh=Refresher.UAS)
        return True

    # --- session timer (RFC 4028) ---

    def start_session_timer(
        self, interval: SessionInterval | None, *, we_refresh: Refresher
    ) -> None:
        """(Re)arm the session timer; ``we_refresh`` is our role in the transaction that set
        it (UAS: a request we answered; UAC: a response we got)."""
        ours = interval is not None and interval.refresher is we_refresh
        self.session_expiry.arm(interval, we_refresh=ours)

    def _refresh_due(self) -> None:
        if self.leg.ended is None:
            self.leg.tasks.spawn(self._refresh(), name=f"session refresh {self.leg.id}")

    def _session_expired(self) -> None:
        if self.leg.ended is None:
            log.info("leg %s: session expired without a refresh, ending it", self.leg.id)
            self.leg.tasks.spawn(
                self.leg.hangup(EndReason.SESSION_EXPIRED), name=f"session expired {self.leg.id}"
            )

    async def _refresh(self) -> None:
        """§7.4, §10: refresh with UPDATE when the peer allows it, else a re-INVITE with our
        SDP unchanged; a 408 or 481 (or no answer) ends the session with a BYE."""
        dialog, interval = self.dialog, self.session_expiry.interval
        if dialog is None or interval is None:
            return
        headers = dict(
            request_headers(self.stack.session_timers, seconds=interval.seconds, refresh=True)
        )
        if self.peer_allows_update or self.media_dialog is None:
            request = dialog.create_request("UPDATE", extra_headers=headers)
        else:
            offer = self.local_sdp = await self.leg.media.offer(self.media_dialog)
            request = dialog.create_request(
                "INVITE", body=offer, content_type=SDP, extra_headers=headers
            )
        tx = self.stack.send_request(request, dialog.next_hop())
        response = await asyncio.shield(tx.final)
        status = response.status_code
        if status < 300:
            await self._refreshed(request, response, interval)
        elif status in (408, 481):
            log.info("leg %s: session refresh answered %d, ending it", self.leg.id, status)
            await self.leg.hangup(EndReason.SESSION_EXPIRED, status)
        elif status == 491:  # RFC 3261 §14.1: glare, try again a little later
            self.session_expiry.retry_refresh(random.uniform(2.1, 4.0))
        elif status == 422 and (wanted := interval_after_422(response, interval.seconds)):
            self.session_expiry.arm(
                SessionInterval(seconds=wanted, refresher=interval.refresher), we_refresh=True
            )
            self.session_expiry.retry_refresh(0.0)
        # any other failure leaves the session to expire (RFC 4028 §10)

    async def _refreshed(
        self, request: SipRequest, response: SipResponse, old: SessionInterval
    ) -> None:
        if request.method == "INVITE" and self.dialog is not None:
            cseq = request.cseq.seq if request.cseq else self.dialog.local_seq
            self._refresh_ack = self.dialog.create_request("ACK", cseq=cseq)
            self.stack.send_raw(self._refresh_ack, self.dialog.next_hop())
            if response.body and self.media_dialog is not None:
                try:
                    await self.leg.media.accept_answer(self.media_dialog, response.body)
                except SdpNegotiationError:
                    log.info("leg %s: unusable SDP answer to a refresh ignored", self.leg.id)
        try:
            interval = accept_response(response, self.stack.session_timers, asked=old.seconds)
        except SessionTimerError:
            interval = old
        self.start_session_timer(interval, we_refresh=Refresher.UAC)

    def send_bye(self) -> None:
        """§15.1.1: BYE in the dialog; the session is over now, nothing waits for the answer
        (:mod:`callbridge.engine.bye`)."""
        dialog = self.dialog
        if dialog is None:
            return
        send_bye(self.stack, dialog)

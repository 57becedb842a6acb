"""Behaviour shared by both sides of an established dialog (RFC 3261 §12.2, §14, §15),
with its session timer (RFC 4028 §9, §10)."""

from __future__ import annotations

import asyncio
import logging
import random

from aiosipua import SipRequest, SipResponse

from callbridge.engine.events import Ended, EndReason, LegEvent, Party
from callbridge.engine.leg import CallLeg
from callbridge.engine.ports import SipStack
from callbridge.engine.session_expiry import SessionExpiry
from callbridge.media.plane import Codec
from callbridge.sip.dialog import Dialog
from callbridge.sip.message import Peer, build_response
from callbridge.sip.sdp import SdpNegotiationError, build_answer, origin_of, parse_answer
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

    def __init__(self, *, leg: CallLeg, stack: SipStack, codecs: tuple[Codec, ...]) -> None:
        self.leg = leg
        self.stack = stack
        self.codecs = codecs
        self.dialog: Dialog | None = None
        self.local_sdp: bytes = b""
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
        handler = {
            "BYE": self._on_bye,
            "INVITE": self._on_reinvite,
            "INFO": self._on_info,
            "OPTIONS": self._on_options,
            "UPDATE": self._on_reinvite,
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

    def _on_reinvite(self, request: SipRequest, server_tx: ServerTransaction) -> None:
        """§14.2: answer a re-INVITE or UPDATE (hold, session refresh) with our current
        session, new version; the session timer starts again (RFC 4028 §9).

        RFC 3264 §8: the new SDP keeps the o= line of our previous one (same sess-id)
        with the version stepped by one; an offerless re-INVITE gets the previous SDP,
        an offerless UPDATE (RFC 3311) none."""
        interval, refusal = negotiate(request, self.stack.session_timers)
        if refusal is not None:
            server_tx.respond(refusal)
            return
        if request.body:
            session_id, version = origin_of(self.local_sdp) or (None, 0)
            try:
                answer, remote = build_answer(
                    request.body,
                    host=self.leg.media.local_host,
                    port=self.leg.media.local_port,
                    codecs=self.codecs,
                    session_id=session_id,
                    version=version + 1,
                )
            except SdpNegotiationError:
                server_tx.respond(build_response(request, 488))
                return
            self.leg.media.set_remote(remote)
            self.local_sdp = answer
        response = build_response(
            request, 200, to_tag=self.dialog.local_tag if self.dialog else None
        )
        assert self.dialog is not None
        response.add_header("Contact", f"<{self.dialog.local.contact_uri}>")
        for name, value in response_headers(interval, request):
            response.add_header(name, value)
        if request.method == "INVITE" or request.body:
            response.add_header("Content-Type", SDP)
            response.body = self.local_sdp
        server_tx.respond(response)
        self.start_session_timer(interval, we_refresh=Refresher.UAS)

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
        if self.peer_allows_update:
            request = dialog.create_request("UPDATE", extra_headers=headers)
        else:
            request = dialog.create_request(
                "INVITE", body=self.local_sdp, content_type=SDP, extra_headers=headers
            )
        tx = self.stack.send_request(request, dialog.next_hop())
        response = await asyncio.shield(tx.final)
        status = response.status_code
        if status < 300:
            self._refreshed(request, response, interval)
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

    def _refreshed(self, request: SipRequest, response: SipResponse, old: SessionInterval) -> None:
        if request.method == "INVITE" and self.dialog is not None:
            cseq = request.cseq.seq if request.cseq else self.dialog.local_seq
            self._refresh_ack = self.dialog.create_request("ACK", cseq=cseq)
            self.stack.send_raw(self._refresh_ack, self.dialog.next_hop())
            if response.body:
                try:
                    self.leg.media.set_remote(parse_answer(response.body, self.codecs))
                except SdpNegotiationError:
                    log.info("leg %s: unusable SDP answer to a refresh ignored", self.leg.id)
        try:
            interval = accept_response(response, self.stack.session_timers, asked=old.seconds)
        except SessionTimerError:
            interval = old
        self.start_session_timer(interval, we_refresh=Refresher.UAC)

    async def send_bye(self) -> None:
        """§15.1.1: BYE in the dialog; the leg ends now, the answer is awaited briefly."""
        dialog = self.dialog
        if dialog is None:
            return
        request = dialog.create_request("BYE")
        self._release()
        tx = self.stack.send_request(request, dialog.next_hop())
        try:
            async with asyncio.timeout(64 * self.stack.timers.t1):
                await asyncio.shield(tx.final)
        except TimeoutError:
            log.info("BYE for %s got no final answer", dialog.call_id)

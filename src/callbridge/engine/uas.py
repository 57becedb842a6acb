"""The answering side of a leg: an INVITE we received (RFC 3261 §13.3)."""

from __future__ import annotations

import asyncio
import logging

from aiosipua import SipRequest, SipResponse

from callbridge.engine.events import (
    Answered,
    EarlyMedia,
    Ended,
    EndReason,
    LegState,
    Party,
    Ringing,
    Trying,
    status_for_reason,
)
from callbridge.engine.indialog import ALLOW, SDP, DialogSession
from callbridge.engine.leg import CallLeg
from callbridge.engine.ports import SipStack
from callbridge.media.plane import MediaDialog
from callbridge.sip.dialog import Dialog, LocalContact
from callbridge.sip.message import Peer, build_response
from callbridge.sip.session_timer import (
    Refresher,
    SessionInterval,
    allows_update,
    response_headers,
)
from callbridge.sip.transaction import ServerTransaction

log = logging.getLogger(__name__)

PROVISIONAL_REFRESH = 60.0  # §13.3.1.1: a non-100 provisional at least every minute


class InboundCall(DialogSession):
    """Signalling of an inbound leg: provisional answers, 200 with retransmission until ACK
    (§13.3.1.4), CANCEL (§9.2), reject with a final status.  ``answer_sdp`` is the media
    plane's answer to the INVITE's offer in ``media_dialog`` (whose ``to_tag`` is ours)."""

    def __init__(
        self,
        *,
        leg: CallLeg,
        stack: SipStack,
        request: SipRequest,
        server_tx: ServerTransaction,
        peer: Peer,
        local: LocalContact,
        media_dialog: MediaDialog,
        answer_sdp: bytes,
        session_interval: SessionInterval | None = None,
    ) -> None:
        super().__init__(leg=leg, stack=stack)
        if media_dialog.to_tag is None:
            raise ValueError("an inbound leg's media dialog carries our to-tag")
        self.request = request
        self.server_tx = server_tx
        self.peer = peer
        self.local_tag = media_dialog.to_tag
        self.media_dialog = self._answering = media_dialog
        self.local_sdp = answer_sdp
        self._session_interval = session_interval
        self.peer_allows_update = allows_update(request)
        self._early = Dialog.as_uas(request=request, local_tag=self.local_tag, local=local)
        self._final_sent = False
        self._provisional: SipResponse | None = None
        self._refresher: asyncio.Task[None] | None = None
        leg.advance(Trying())
        self._cancel_watch: asyncio.Task[None] | None = leg.tasks.spawn(
            self._watch_cancel(), name=f"cancel-watch {leg.id}"
        )

    async def _watch_cancel(self) -> None:
        """§9.2: the transaction layer answered CANCEL 200; we answer the INVITE 487."""
        await self.server_tx.cancelled.wait()
        if not self._final_sent:
            self._respond(487)
            self.leg.advance(Ended(EndReason.CANCELLED, Party.REMOTE, 487, "CANCEL"))

    def _respond(self, status: int, *, with_sdp: bool = False, reason: str | None = None) -> None:
        response = build_response(self.request, status, reason, to_tag=self.local_tag)
        if status < 300 and status != 100:
            response.add_header("Contact", f"<{self._early.local.contact_uri}>")
        if with_sdp:
            response.add_header("Content-Type", SDP)
            response.body = self.local_sdp
        if status >= 200:
            self._final_sent = True
            self._stop_refreshing()
        elif status > 100:
            self._provisional = response
            if self._refresher is None:
                self._refresher = self.leg.tasks.spawn(
                    self._refresh_provisional(), name=f"1xx refresh {self.leg.id}"
                )
        self.server_tx.respond(response)

    async def _refresh_provisional(self) -> None:
        """§13.3.1.1: resend the last provisional response while the call rings, so that
        neither a proxy nor the transaction's own Timer C gives up on a long ring."""
        interval = min(PROVISIONAL_REFRESH, self.stack.timers.c / 3)
        while not self._final_sent and self._provisional is not None:
            await asyncio.sleep(interval)
            if not self._final_sent:
                self.server_tx.respond(self._provisional)

    def _stop_refreshing(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            self._refresher = None

    async def ring(self) -> None:
        if self.leg.state is LegState.TRYING:
            self._respond(180)
            self.leg.advance(Ringing())

    async def early_media(self) -> None:
        """183 Session Progress with our SDP, so announcements reach the caller unanswered."""
        if self.leg.state in (LegState.TRYING, LegState.RINGING):
            self.leg.media.answer_sent(self._answering)
            self._respond(183, with_sdp=True)
            self.leg.advance(EarlyMedia())

    async def answer(self) -> None:
        if self.leg.state is LegState.ANSWERED:
            return
        if self._final_sent:
            raise RuntimeError("call was already answered or rejected")
        self.leg.media.answer_sent(self._answering)
        response = build_response(self.request, 200, to_tag=self.local_tag)
        response.add_header("Contact", f"<{self._early.local.contact_uri}>")
        response.add_header("Allow", ALLOW)
        for name, value in response_headers(self._session_interval, self.request):
            response.add_header(name, value)
        response.add_header("Content-Type", SDP)
        response.body = self.local_sdp
        self._final_sent = True
        self._stop_refreshing()
        self._confirm(self._early)
        self.start_session_timer(self._session_interval, we_refresh=Refresher.UAS)
        self.server_tx.respond(response)
        if self._cancel_watch is not None:  # a CANCEL can no longer apply (§9.2)
            self._cancel_watch.cancel()
            self._cancel_watch = None  # its CancelledError's traceback refers back to us
        self.leg.advance(Answered(dialog=self._early.snapshot()))
        self.leg.tasks.spawn(self._retransmit_2xx(response), name=f"2xx {self.leg.id}")

    async def _retransmit_2xx(self, response: SipResponse) -> None:
        """§13.3.1.4: resend the 200 at T1, 2T1 … T2 until ACK; no ACK in 64*T1 → BYE."""
        timers = self.stack.timers
        interval, waited = timers.t1, 0.0
        while waited < 64 * timers.t1:
            try:
                await asyncio.wait_for(self.ack_received.wait(), interval)
                return
            except TimeoutError:
                waited += interval
                if self.peer.transport == "udp":
                    self.stack.send_raw(response, self.peer)
                interval = min(interval * 2, timers.t2)
        log.info("leg %s: no ACK for 200, ending with BYE", self.leg.id)
        self.send_bye()
        self.leg.advance(Ended(EndReason.FAILED, Party.LOCAL, 408, "no ACK"))

    async def terminate(self, reason: EndReason, sip_code: int | None) -> None:
        if self.leg.state is LegState.ANSWERED:
            self.leg.advance(Ended(reason, Party.LOCAL, sip_code))
            self.send_bye()
            return
        status = sip_code if sip_code and sip_code >= 300 else status_for_reason(reason)
        if not self._final_sent:
            self._respond(status)
        self.leg.advance(Ended(reason, Party.LOCAL, status))

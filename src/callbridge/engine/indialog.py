"""Behaviour shared by both sides of an established dialog (RFC 3261 §12.2, §14, §15)."""

from __future__ import annotations

import asyncio
import logging

from aiosipua import SipRequest, SipResponse

from callbridge.engine.events import Ended, EndReason, Party
from callbridge.engine.leg import CallLeg
from callbridge.engine.ports import SipStack
from callbridge.media.plane import Codec
from callbridge.sip.dialog import Dialog
from callbridge.sip.message import Peer, build_response
from callbridge.sip.sdp import SdpNegotiationError, build_answer, origin_of
from callbridge.sip.transaction import ServerTransaction

log = logging.getLogger(__name__)

SDP = "application/sdp"


class DialogSession:
    """In-dialog requests for one leg: BYE, re-INVITE, INFO, OPTIONS, ACK; and sending BYE."""

    def __init__(self, *, leg: CallLeg, stack: SipStack, codecs: tuple[Codec, ...]) -> None:
        self.leg = leg
        self.stack = stack
        self.codecs = codecs
        self.dialog: Dialog | None = None
        self.local_sdp: bytes = b""
        self.ack_received = asyncio.Event()

    def _confirm(self, dialog: Dialog) -> None:
        self.dialog = dialog
        self.stack.register_dialog(dialog.key, self)

    def _release(self) -> None:
        if self.dialog is not None:
            self.stack.unregister_dialog(self.dialog.key)

    def on_retransmitted_2xx(self, response: SipResponse, peer: Peer) -> None:
        """Only meaningful for the UAC side (it re-sends its ACK)."""

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
            "UPDATE": self._on_options,
        }.get(request.method)
        if handler is None:
            response = build_response(request, 501)
            response.add_header("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO")
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
        """§14.2: answer a re-INVITE (hold, refresh) with our current session, new version.

        RFC 3264 §8: the new SDP keeps the o= line of our previous one (same sess-id)
        with the version stepped by one; an offerless re-INVITE gets the previous SDP."""
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
        response.add_header("Content-Type", SDP)
        response.body = self.local_sdp
        server_tx.respond(response)

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

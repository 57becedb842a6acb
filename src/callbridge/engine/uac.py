"""The calling side of a leg: the one INVITE we send to one destination (RFC 3261 §13.2).

A leg is one INVITE: ringing several phones at once (a user's contacts, a Dial group) is
the switch's job, which places one leg per phone.  The first 2xx wins the leg; a further
2xx (a fork downstream) or one that arrives after we gave up is ACKed and ended with BYE
(§13.2.2.4, §15: the 200-after-CANCEL race).  A 401/407 challenge is answered once with
the destination's credentials (§22.2).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiosipua import SipRequest, SipResponse
from aiosipua.auth import SipDigestAuth, answer_challenge

from callbridge.engine.events import (
    Answered,
    EarlyMedia,
    Ended,
    EndReason,
    LegState,
    Party,
    Ringing,
    Trying,
    reason_for_status,
)
from callbridge.engine.indialog import ALLOW, SDP, DialogSession
from callbridge.engine.leg import CallLeg, PartyInfo
from callbridge.engine.ports import SipStack
from callbridge.engine.routing import Destination
from callbridge.media.plane import MediaDialog
from callbridge.sip.dialog import Dialog
from callbridge.sip.message import Peer, new_call_id, new_tag
from callbridge.sip.sdp import SdpNegotiationError
from callbridge.sip.session_timer import (
    Refresher,
    SessionTimerError,
    accept_response,
    allows_update,
    interval_after_422,
    request_headers,
)
from callbridge.sip.transaction import ClientTransaction

log = logging.getLogger(__name__)


@dataclass
class _Attempt:
    destination: Destination
    call_id: str
    from_tag: str
    tx: ClientTransaction | None = None
    provisional: asyncio.Event = field(default_factory=asyncio.Event)
    final_status: int | None = None
    timed_out: bool = False
    cancelled: bool = False
    done: bool = False
    dialog: Dialog | None = None
    ack: SipRequest | None = None
    request: SipRequest | None = None  # the INVITE sent last
    session_expires: int | None = None  # asked for again after a 422 (RFC 4028 §7.3)
    offer: bytes = b""  # the media plane's SDP offer

    def media_dialog(self, to_tag: str | None = None) -> MediaDialog:
        return MediaDialog(call_id=self.call_id, from_tag=self.from_tag, to_tag=to_tag)


def _failed(attempt: _Attempt) -> None:
    """An INVITE that broke on our side (logged): a 500 of its own, and done."""
    log.exception("INVITE to %s failed", attempt.destination.label)
    attempt.final_status = attempt.final_status or 500
    attempt.done = True


class OutboundCall(DialogSession):
    def __init__(
        self,
        *,
        leg: CallLeg,
        stack: SipStack,
        destination: Destination,
        caller: PartyInfo,
        ring_timeout: float,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(leg=leg, stack=stack)
        self._caller = caller
        self._ring_timeout = ring_timeout
        self._extra = dict(extra_headers or {})
        self._attempt = _Attempt(destination, new_call_id(destination.peer.host), new_tag())
        self._winner: _Attempt | None = None  # set by the 2xx that won the leg
        self._give_up: EndReason | None = None
        self._decided = asyncio.Event()

    async def start(self) -> None:
        """Ask the media plane for the offer and send the INVITE now, then follow it in
        the leg's task.

        Sent before any task runs: under load each turn of the event loop waits behind
        everything that is ready, and an API call's latency is counted to its INVITE."""
        attempt = self._attempt
        self.leg.sip_call_id = attempt.call_id
        self.leg.advance(Trying())
        try:
            attempt.offer = await self.leg.media.offer(attempt.media_dialog())
            self._send_invite(attempt, cseq=1, auth=None)
        except Exception:
            _failed(attempt)
        self.leg.tasks.spawn(self._run(), name=f"uac {self.leg.id}")

    # --- the whole outbound attempt ---

    async def _run(self) -> None:
        self._check_decided()  # the INVITE may have failed to go out
        async with asyncio.TaskGroup() as group:
            if not self._attempt.done:
                group.create_task(self._follow_invite(self._attempt))
            group.create_task(self._ring_timer())
        if self._winner is None:
            self.leg.advance(self._failure())

    async def _ring_timer(self) -> None:
        try:  # asyncio.timeout rather than wait_for: no task made for the wait (3.11)
            async with asyncio.timeout(self._ring_timeout):
                await self._decided.wait()
        except TimeoutError:
            self._stop_ringing(EndReason.NO_ANSWER)

    def _stop_ringing(self, reason: EndReason) -> None:
        if self._give_up is None and self._winner is None:
            self._give_up = reason
        attempt = self._attempt
        if attempt is not self._winner:
            self.leg.tasks.spawn(self._cancel(attempt), name=f"cancel {attempt.call_id}")

    def _failure(self) -> Ended:
        if self._give_up is not None:
            return Ended(
                self._give_up,
                Party.LOCAL,
                None,
                "ring timeout" if self._give_up is EndReason.NO_ANSWER else "",
            )
        attempt = self._attempt
        status = attempt.final_status or 500
        reason = EndReason.UNREACHABLE if attempt.timed_out else reason_for_status(status)
        return Ended(reason, Party.REMOTE, attempt.final_status, attempt.destination.label)

    def _check_decided(self) -> None:
        if self._winner is not None or self._attempt.done:
            self._decided.set()

    # --- the INVITE ---

    async def _follow_invite(self, attempt: _Attempt) -> None:
        try:
            await self._invite_until_final(attempt)
        except Exception:
            _failed(attempt)
        finally:
            attempt.done = True
            self._check_decided()

    def _send_invite(self, attempt: _Attempt, *, cseq: int, auth: tuple[str, str] | None) -> None:
        attempt.request = self._invite(attempt, cseq=cseq, auth=auth)
        attempt.tx = self.stack.send_request(attempt.request, attempt.destination.peer)

    async def _invite_until_final(self, attempt: _Attempt) -> None:
        """Follow the INVITE :meth:`start` sent until its final answer (and once more
        after a challenge)."""
        cseq, auth, retried_422 = 1, None, False
        while True:
            request = attempt.request
            assert request is not None, "start() sent the first INVITE"
            response = await self._await_final(attempt)
            status = response.status_code
            if status < 300:
                await self._on_2xx(attempt, request, response)
                return
            attempt.final_status = status
            attempt.timed_out = status == 408 and not (response.to_addr and response.to_addr.tag)
            if status == 422 and not retried_422 and not attempt.cancelled:
                retried_422 = True
                asked = attempt.session_expires or self.stack.session_timers.session_expires
                attempt.session_expires = interval_after_422(response, asked)
                if attempt.session_expires is not None:
                    cseq += 1
                    self._send_invite(attempt, cseq=cseq, auth=auth)
                    continue
            creds = attempt.destination.credentials
            if status in (401, 407) and auth is None and creds and not attempt.cancelled:
                auth = answer_challenge(
                    SipDigestAuth(*creds), response, status, "INVITE", request.uri
                )
                if auth is not None:
                    cseq += 1
                    self._send_invite(attempt, cseq=cseq, auth=auth)
                    continue
            return

    async def _await_final(self, attempt: _Attempt) -> SipResponse:
        assert attempt.tx is not None
        while True:
            response = await attempt.tx.next_response()
            if response.status_code >= 200:
                return response
            attempt.provisional.set()
            if not attempt.cancelled and self._winner is None:
                await self._on_provisional(attempt, response)

    async def _on_provisional(self, attempt: _Attempt, response: SipResponse) -> None:
        status = response.status_code
        if status == 100:
            return
        if response.body and self.leg.state is not LegState.EARLY_MEDIA:
            dialog = attempt.media_dialog(_to_tag(response))
            try:
                await self.leg.media.accept_answer(dialog, response.body)
            except SdpNegotiationError:
                log.info("leg %s: unusable early SDP ignored", self.leg.id)
            else:
                if self._winner is None and not self.leg.ended:
                    self.leg.advance(EarlyMedia())
                return
        self.leg.advance(Ringing())

    def _invite(self, attempt: _Attempt, *, cseq: int, auth: tuple[str, str] | None) -> SipRequest:
        destination = attempt.destination
        local = self.stack.local_for(destination.peer.transport)
        request = SipRequest(method="INVITE", uri=destination.request_uri)
        request.add_header("Via", local.via_value)
        name = f'"{self._caller.display_name}" ' if self._caller.display_name else ""
        request.add_header(
            "From", f"{name}<sip:{self._caller.user}@{local.host}>;tag={attempt.from_tag}"
        )
        request.add_header("To", f"<{destination.to_uri}>")
        request.add_header("Call-ID", attempt.call_id)
        request.add_header("CSeq", f"{cseq} INVITE")
        request.add_header("Max-Forwards", "70")
        request.add_header("Contact", f"<sip:{self._caller.user}@{local.host}:{local.port}>")
        request.add_header("Allow", ALLOW)
        request.add_header("User-Agent", "Callbridge")
        timer = request_headers(
            self.stack.session_timers,
            seconds=attempt.session_expires,
            min_se=attempt.session_expires,
        )
        for header, value in timer:
            request.add_header(header, value)
        if auth is not None:
            request.add_header(*auth)
        for header, value in self._extra.items():
            request.add_header(header, value)
        request.add_header("Content-Type", SDP)
        request.body = attempt.offer
        return request

    # --- answers ---

    async def _on_2xx(self, attempt: _Attempt, request: SipRequest, response: SipResponse) -> None:
        """§13.2.2.4: ACK every 2xx end to end; a usable answer wins the leg (claimed
        before the plane is asked; an answer the plane refuses gives it up again), one
        that came after we gave up is ended with BYE."""
        local = self.stack.local_for(attempt.destination.peer.transport)
        dialog = Dialog.as_uac(request=request, response=response, local=local)
        cseq = request.cseq.seq if request.cseq else 1
        attempt.dialog = dialog
        attempt.ack = dialog.create_request("ACK", cseq=cseq)
        self.stack.send_raw(attempt.ack, dialog.next_hop())
        if (
            self._winner is not None
            or self._give_up is not None
            or not response.body
            or self.leg.ended
        ):
            self.leg.tasks.spawn(self._bye_loser(dialog), name=f"bye {dialog.call_id}")
            return
        self._winner = attempt
        media_dialog = attempt.media_dialog(dialog.remote_tag)
        try:
            await self.leg.media.accept_answer(media_dialog, response.body)
        except SdpNegotiationError:
            self._winner = None
            self.leg.tasks.spawn(self._bye_loser(dialog), name=f"bye {dialog.call_id}")
            return
        if self._give_up is not None or self.leg.ended:  # while the plane was asked
            self._winner = None
            self.leg.tasks.spawn(self._bye_loser(dialog), name=f"bye {dialog.call_id}")
            return
        self.media_dialog = media_dialog
        self.local_sdp = attempt.offer
        self.leg.sip_call_id = attempt.call_id
        self._confirm(dialog)
        self.peer_allows_update = allows_update(response)
        try:
            interval = accept_response(
                response, self.stack.session_timers, asked=attempt.session_expires
            )
        except SessionTimerError:
            interval = None
        self.start_session_timer(interval, we_refresh=Refresher.UAC)
        self.leg.advance(Answered(dialog=dialog.snapshot()))
        self._stop_ringing(EndReason.CANCELLED)

    def on_retransmitted_2xx(self, response: SipResponse, peer: Peer) -> None:
        winner = self._winner
        if winner is None or winner.ack is None or winner.dialog is None:
            return
        if response.cseq and winner.ack.cseq and response.cseq.seq != winner.ack.cseq.seq:
            super().on_retransmitted_2xx(response, peer)  # a refresh's 2xx
            return
        self.stack.send_raw(winner.ack, winner.dialog.next_hop())

    async def _bye_loser(self, dialog: Dialog) -> None:
        request = dialog.create_request("BYE")
        tx = self.stack.send_request(request, dialog.next_hop())
        await asyncio.shield(tx.final)

    async def _cancel(self, attempt: _Attempt) -> None:
        """§9.1: CANCEL only after a provisional response, and only while no final came."""
        if attempt.done or attempt.cancelled:
            return
        attempt.cancelled = True
        try:
            await asyncio.wait_for(attempt.provisional.wait(), 64 * self.stack.timers.t1)
        except TimeoutError:
            return
        if attempt.done or attempt.tx is None:
            return
        self.stack.send_request(attempt.tx.cancel_request(), attempt.destination.peer)

    # --- LegSignalling ---

    async def ring(self) -> None:
        raise RuntimeError("an outbound leg does not ring itself")

    async def early_media(self) -> None:
        raise RuntimeError("an outbound leg gets early media from its peer")

    async def answer(self) -> None:
        raise RuntimeError("an outbound leg is answered by its peer")

    async def terminate(self, reason: EndReason, sip_code: int | None) -> None:
        if self.leg.state is LegState.ANSWERED:
            self.leg.advance(Ended(reason, Party.LOCAL, sip_code))
            self.send_bye()
            return
        self._stop_ringing(reason if reason is not EndReason.HUNG_UP else EndReason.CANCELLED)
        await self.leg.wait_ended()


def _to_tag(response: SipResponse) -> str | None:
    return (response.to_addr.tag or None) if response.to_addr else None

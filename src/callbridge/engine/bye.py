"""Ending a dialog with a BYE (RFC 3261 §15.1.1): the session is over the moment the BYE
is handed to its client transaction, so nothing waits for the answer — not the leg, not
whoever hung it up, not the call above it.

The transaction lives on in the transaction layer (it retransmits the BYE and absorbs the
answer); until its final answer (a 200, a 481 from a peer that had already ended the
dialog, or Timer F's 408 from one that never answers) an :class:`EndingDialog` stands in
for the dialog, so that the peer's own BYE crossing ours ("BYE glare", both sides hanging
up at once) gets the 200 it expects rather than a 481.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiosipua import SipRequest, SipResponse

from callbridge.engine.ports import SipStack
from callbridge.sip.dialog import Dialog
from callbridge.sip.message import Peer, build_response
from callbridge.sip.transaction import ServerTransaction

log = logging.getLogger(__name__)


class EndingDialog:
    """A dialog we sent BYE in, while that BYE awaits its answer (``answered``): a BYE from
    the peer is answered 200 (it crossed ours), any other request 481 (no session any more)."""

    def __init__(self, *, answered: asyncio.Future[SipResponse]) -> None:
        self.answered = answered

    def on_request(
        self, request: SipRequest, server_tx: ServerTransaction | None, peer: Peer
    ) -> None:
        if server_tx is not None:  # ACK has none
            server_tx.respond(build_response(request, 200 if request.method == "BYE" else 481))

    def on_retransmitted_2xx(self, response: SipResponse, peer: Peer) -> None:
        """Nothing to ACK again: the session is over."""


def send_bye(stack: SipStack, dialog: Dialog) -> None:
    """Send BYE in ``dialog`` and return at once; the dialog stays known (as an
    :class:`EndingDialog`) only until the BYE's transaction has its final answer."""
    request = dialog.create_request("BYE")
    key = dialog.key
    tx = stack.send_request(request, dialog.next_hop())
    stack.register_dialog(key, EndingDialog(answered=tx.final))

    def answered(final: asyncio.Future[SipResponse]) -> None:
        stack.unregister_dialog(key)
        if final.cancelled():  # the transaction layer closed (shutdown)
            return
        status = final.result().status_code
        if status >= 300 and status != 481:  # 481: the peer had already ended it
            log.info("BYE for %s answered %d (the dialog is over all the same)", key[0], status)

    tx.final.add_done_callback(answered)


async def byes_answered(dialogs: Iterable[object], *, timeout: float) -> None:
    """Until each BYE still awaiting its answer among ``dialogs`` (a stack's dialog
    handlers) has it, or ``timeout``: a server shutting down lets its last BYEs be
    retransmitted (they end the far ends' calls) before it closes its transactions."""
    answers = [each.answered for each in dialogs if isinstance(each, EndingDialog)]
    if answers:
        await asyncio.wait(answers, timeout=timeout)

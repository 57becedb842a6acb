"""Ending a dialog that a previous run of this server left up: it crashed or was killed
during a call, and the far end still has the call (and its media) open.

A BYE (RFC 3261 §15.1.1) built from the dialog's stored snapshot and sent from wherever the
server listens now; its CSeq is far above the last one the snapshot recorded, since the dead
process may have sent more in-dialog requests after it was stored (CSeq must only grow in a
dialog, §12.2.1.1).  Whatever the answer, the dialog is over for us: a 481 means the far end
had already ended it.
"""

from __future__ import annotations

import logging

from callbridge.engine.ports import SipStack
from callbridge.sip.dialog import DialogSnapshot

log = logging.getLogger(__name__)

CSEQ_GAP = 100_000


async def end_stale_dialog(stack: SipStack, snapshot: DialogSnapshot) -> int:
    """Send the BYE and wait for its final answer (408 from Timer F, §17.1.2.2, when the far
    end never answers); the answer's status code."""
    dialog = snapshot.dialog(local=stack.local_for(snapshot.transport))
    request = dialog.create_request("BYE", cseq=min(snapshot.local_seq + CSEQ_GAP, 2**31 - 1))
    tx = stack.send_request(request, dialog.next_hop())
    response = await tx.final
    log.info(
        "BYE for the dialog %s left by the previous run: %d %s",
        snapshot.call_id,
        response.status_code,
        response.reason_phrase,
    )
    return response.status_code

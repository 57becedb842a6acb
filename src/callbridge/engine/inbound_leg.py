"""The leg of an INVITE we received: its parties, its SDP answer and its signalling.

Built in one step so that a failure (an offer we cannot answer, a header that breaks the
dialog) leaves nothing behind: the caller gets the media endpoint back and answers the
request (488, or 400/500 through :mod:`callbridge.engine.request_guard`).
"""

from __future__ import annotations

from aiosipua import SipRequest
from aiosipua.headers import parse_address

from callbridge.engine.events import Direction
from callbridge.engine.leg import CallLeg, PartyInfo
from callbridge.engine.media_ports import MediaEndpoint
from callbridge.engine.ports import SipStack, SpeechSynthesizer
from callbridge.engine.uas import InboundCall
from callbridge.media.plane import MediaDialog
from callbridge.sip.message import Peer, new_tag
from callbridge.sip.session_timer import SessionInterval
from callbridge.sip.transaction import ServerTransaction


async def inbound_leg(
    *,
    leg_id: str,
    request: SipRequest,
    server_tx: ServerTransaction,
    peer: Peer,
    endpoint: MediaEndpoint,
    stack: SipStack,
    tts: SpeechSynthesizer,
    session_interval: SessionInterval | None = None,
) -> CallLeg:
    """The answering leg of ``request``; raises SdpNegotiationError for an unusable offer.
    On any failure the leg's own tasks are closed; ``endpoint`` stays the caller's."""
    caller = parse_address(request.get_header("from") or "")
    dialog = MediaDialog(call_id=request.call_id or "", from_tag=caller.tag or "", to_tag=new_tag())
    answer = await endpoint.answer(dialog, request.body)
    leg = CallLeg(
        leg_id=leg_id,
        direction=Direction.INBOUND,
        caller=PartyInfo(
            uri=f"sip:{caller.uri.user or ''}@{caller.uri.host}",
            user=caller.uri.user or "",
            display_name=caller.display_name,
        ),
        callee=PartyInfo(uri=request.uri, user=dialled_user(request)),
        media=endpoint,
        tts=tts,
    )
    leg.sip_call_id = request.call_id
    try:
        leg.signalling = InboundCall(
            leg=leg,
            stack=stack,
            request=request,
            server_tx=server_tx,
            peer=peer,
            local=stack.local_for(peer.transport),
            media_dialog=dialog,
            answer_sdp=answer,
            session_interval=session_interval,
        )
    except BaseException:
        await leg.tasks.close()
        raise
    return leg


def dialled_user(request: SipRequest) -> str:
    user = request.uri.split(":", 1)[-1].split("@", 1)[0]
    return user.split(";", 1)[0]

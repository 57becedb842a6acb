"""An outbound leg's INVITE is on the wire when ``originate`` returns (RFC 3261 §13.2.1),
before any task has run; a destination whose INVITE cannot go out fails the leg at once."""

from __future__ import annotations

import socket

from engine_setup import ENGINE_HOST, ENGINE_PORT

from callbridge.engine.engine import Engine
from callbridge.engine.events import EndReason, LegState

PEER_HOST = "127.0.31.1"


def busy_here(invite: bytes) -> bytes:
    """A 486 for ``invite``, its dialog headers copied (§8.2.6.2)."""
    head = invite.split(b"\r\n\r\n", 1)[0].decode()
    copied = [
        line + (";tag=peer" if line.lower().startswith("to:") else "")
        for line in head.split("\r\n")[1:]
        if line.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq")
    ]
    return ("SIP/2.0 486 Busy Here\r\n" + "\r\n".join(copied)).encode() + (
        b"\r\nContent-Length: 0\r\n\r\n"
    )


async def test_the_invite_is_sent_before_originate_returns(engine: Engine) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind((PEER_HOST, 0))
        peer.setblocking(False)
        port = peer.getsockname()[1]
        leg = await engine.originate(f"sip:alice@{PEER_HOST}:{port}", ring_timeout=1.0)
        invite = peer.recv(65536)  # no await in between: no task could have sent it
        assert invite.startswith(b"INVITE sip:alice@")
        assert leg.state is LegState.TRYING
        peer.sendto(busy_here(invite), (ENGINE_HOST, ENGINE_PORT))
        ended = await leg.wait_ended()
        assert ended.reason is EndReason.BUSY


async def test_a_leg_whose_invites_all_fail_to_go_out_ends_without_ringing_out(
    engine: Engine,
) -> None:
    def refuse(*_args: object) -> None:
        raise OSError("no route to the peer")

    engine.send_request = refuse  # type: ignore[method-assign, assignment]
    leg = await engine.originate(f"sip:alice@{PEER_HOST}:5999", ring_timeout=30.0)
    ended = await leg.wait_ended()
    assert ended.reason is not EndReason.NO_ANSWER
    assert leg.state is LegState.ENDED

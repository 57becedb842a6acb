"""The media seam's offer/answer through two in-process endpoints (loopback UDP): a caller
endpoint offers, a callee endpoint answers, each applies the other's SDP; then a hold and
a resume as re-offers in the same dialog (RFC 3264 §8, §8.4)."""

from __future__ import annotations

import asyncio

import pytest

from callbridge.codecs.formats import PCMA
from callbridge.media.inprocess import InProcessEndpoint, InProcessMediaPlane
from callbridge.media.plane import MediaDialog
from callbridge.sip.sdp import SdpNegotiationError, origin_of

OFFERING = MediaDialog(call_id="c1@127.0.0.1", from_tag="caller")
DIALOG = MediaDialog(call_id="c1@127.0.0.1", from_tag="caller", to_tag="callee")


async def flowing(
    a: InProcessEndpoint, b: InProcessEndpoint, *, seconds: float = 0.3
) -> tuple[int, int]:
    """Packets (a->b, b->a) received meanwhile."""
    before = (b.packets_received, a.packets_received)
    await asyncio.sleep(seconds)
    return b.packets_received - before[0], a.packets_received - before[1]


async def test_offer_answer_hold_and_resume(plane: InProcessMediaPlane) -> None:
    caller, callee = await plane.allocate(), await plane.allocate()

    offer = await caller.offer(OFFERING)
    assert await caller.offer(OFFERING) == offer  # a fork asks again: the same offer
    answer = await callee.answer(DIALOG, offer)
    assert b"a=sendrecv" in answer
    assert b"PCMU/8000" in answer
    assert callee.session.remote is None  # nothing goes out before the answer is sent
    callee.answer_sent(DIALOG)
    await caller.accept_answer(DIALOG, answer)
    assert (caller.dialog, callee.dialog) == (DIALOG, DIALOG)
    caller.keep_alive()
    callee.keep_alive()
    assert all(n >= 8 for n in await flowing(caller, callee)), "audio flows both ways"

    held = await caller.offer(DIALOG, hold=True)  # re-INVITE: hold
    assert b"a=sendonly" in held
    assert origin_of(held) == (origin_of(offer)[0], origin_of(offer)[1] + 1)  # type: ignore[index]
    held_answer = await callee.answer(DIALOG, held)
    assert b"a=recvonly" in held_answer
    callee.answer_sent(DIALOG)
    await caller.accept_answer(DIALOG, held_answer)
    assert callee.session.remote is not None
    assert callee.session.remote.on_hold
    assert caller.session.remote is not None
    assert caller.session.remote.on_hold
    await asyncio.sleep(0.1)  # packets in flight drain
    to_callee, to_caller = await flowing(caller, callee)
    assert to_callee >= 8, "the holder sends"
    assert to_caller == 0, "the held side sends nothing"

    resumed = await caller.offer(DIALOG, hold=False)  # re-INVITE: resume
    assert b"a=sendrecv" in resumed
    assert origin_of(resumed)[1] == origin_of(held)[1] + 1  # type: ignore[index]
    assert await caller.offer(DIALOG) == resumed  # a refresh: unchanged, same version
    resumed_answer = await callee.answer(DIALOG, resumed)
    callee.answer_sent(DIALOG)
    await caller.accept_answer(DIALOG, resumed_answer)
    assert all(n >= 8 for n in await flowing(caller, callee)), "audio flows both ways again"


async def test_answer_picks_our_codec_the_offer_has(plane: InProcessMediaPlane) -> None:
    alaw_only = InProcessMediaPlane(
        host="127.0.0.1", port_start=41300, port_end=41309, codecs=(PCMA,)
    )
    try:
        caller, callee = await plane.allocate(), await alaw_only.allocate()
        answer = await callee.answer(DIALOG, await caller.offer(OFFERING))
        assert b"PCMA/8000" in answer
        assert b"PCMU" not in answer
        await caller.accept_answer(DIALOG, answer)
        assert caller.session.remote is not None
        assert caller.session.remote.codec.name == "PCMA"
    finally:
        await alaw_only.close()


async def test_an_unusable_offer_or_answer_changes_nothing(plane: InProcessMediaPlane) -> None:
    caller, callee = await plane.allocate(), await plane.allocate()
    offer = await caller.offer(OFFERING)
    video_only = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    video_only += b"m=video 4000 RTP/AVP 96\r\n"
    with pytest.raises(SdpNegotiationError):
        await callee.answer(DIALOG, video_only)
    callee.answer_sent(DIALOG)
    assert callee.session.remote is None
    answer = await callee.answer(DIALOG, offer)
    assert origin_of(answer)[1] == 1  # type: ignore[index]  # the refused offer took no version
    with pytest.raises(SdpNegotiationError):
        await caller.accept_answer(DIALOG, video_only)
    assert caller.session.remote is None

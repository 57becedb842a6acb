"""The switch under the Dial verb, with real peers: what the caller hears while its
targets ring (ringback tone, early media), the first answer winning over the others
(CANCEL), and the caller hanging up while they ring (nothing left behind)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from call_world import CallWorld
from callback_support import classify

from callbridge.calls.request import OutboundCallRequest, StatusCallback
from callbridge.calls.switch.ringback import RINGBACK_HZ
from callbridge.codecs.g711 import ulaw_encode
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.webhooks.params import CallbackEvent
from peers.conftest import BaresipFactory, SippUasFactory, sipp_host
from peers.sipp import SCENARIOS, SippRun, UasMode
from webhook_receiver import Receiver

pytestmark = pytest.mark.peers

CUSTOMER_TONE = 600.0  # what the called customer (the A side) sends
AGENT_TONE = 1000.0  # what the dialled agent (the B side) sends
EARLY_TONE = 1400.0  # the early media of a target that answers 183
HEARD = {"ringback": RINGBACK_HZ, "agent": (AGENT_TONE,), "early": (EARLY_TONE,)}
FRAMES_PER_SECOND = 50
WAIT = 15.0


def request(receiver: Receiver, to: str) -> OutboundCallRequest:
    return OutboundCallRequest(
        api_key_id=None,
        to=to,
        from_="15550001",
        url=receiver.url("/app"),
        status_callback=StatusCallback(url=receiver.url("/status"), events=tuple(CallbackEvent)),
    )


def runs(kinds: list[str]) -> list[tuple[str, int]]:
    """(kind, frames) of each run of equal frames, in order."""
    out: list[tuple[str, int]] = []
    for kind in kinds:
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + 1)
        else:
            out.append((kind, 1))
    return out


async def nothing_left(world: CallWorld) -> None:
    """Every leg is gone and every RTP port is back in the pool."""
    plane = world.engine.media
    assert isinstance(plane, InProcessMediaPlane)
    for _ in range(250):
        if not world.engine.legs and not plane.pool.leased:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"left over: legs {world.engine.legs}, ports {plane.pool.leased}")


async def dialled(world: CallWorld) -> dict[str, str]:
    await world.receiver.wait_for(lambda: bool(world.receiver.on("/dialled")), timeout=WAIT)
    return world.receiver.on("/dialled")[0].form


async def test_an_answered_call_hears_ringback_then_the_agent(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    """A Dial from an answered outbound call: ringback (440+480 Hz, 2 s on, then off)
    while the agent rings ~2.6 s, then the agent's audio; the tone stops at the answer."""
    customer, agent = await asyncio.gather(
        baresip("customer", auto_answer=True, tone_hz=CUSTOMER_TONE),
        baresip("agent", tone_hz=AGENT_TONE),
    )
    world.receiver.documents["/app"] = (
        f'<Response><Dial timeout="10" action="/dialled"><Sip>{agent.uri}</Sip></Dial></Response>'
    )
    world.receiver.documents["/dialled"] = "<Response><Hangup/></Response>"
    await world.calls.place_call(request(world.receiver, customer.uri))
    await agent.wait_event("CALL_INCOMING", timeout=WAIT)
    await asyncio.sleep(2.6)
    await agent.answer()
    await agent.wait_event("CALL_ESTABLISHED", timeout=WAIT)
    await asyncio.sleep(1.5)
    await agent.hangup()
    await customer.wait_event("CALL_CLOSED", timeout=WAIT)
    assert (await dialled(world))["DialCallStatus"] == "completed"

    heard = [kind for kind, _ in runs(classify(customer.recorded_wav, HEARD)) if kind]
    assert heard[:2] == ["ringback", "agent"], runs(classify(customer.recorded_wav, HEARD))
    kinds = classify(customer.recorded_wav, HEARD)
    first_tone = kinds.index("ringback")
    tone_frames = runs(kinds[first_tone:])[0][1]
    # The cadence's "on" is 2 s (100 frames); the tone was stopped by the answer (at
    # ~2.6 s), so the "off" part began and the agent came next.
    assert abs(tone_frames - 2 * FRAMES_PER_SECOND) <= 5, tone_frames
    agent_at = kinds.index("agent")
    assert agent_at - (first_tone + tone_frames) >= 0.3 * FRAMES_PER_SECOND
    assert "ringback" not in kinds[agent_at:], "ringback after the answer"
    await nothing_left(world)


async def test_two_targets_the_first_to_answer_wins_the_other_is_cancelled(
    world: CallWorld, baresip: BaresipFactory, sipp_uas: SippUasFactory
) -> None:
    customer, agent = await asyncio.gather(
        baresip("customer", auto_answer=True, tone_hz=CUSTOMER_TONE),
        baresip("agent", tone_hz=AGENT_TONE),
    )
    loser = await sipp_uas(UasMode.RING_FOREVER, calls=1, rtp_echo=False)
    world.receiver.documents["/app"] = (
        '<Response><Dial timeout="10" action="/dialled">'
        f"<Sip>{agent.uri}</Sip><Sip>sip:loser@{loser.address}</Sip>"
        "</Dial></Response>"
    )
    world.receiver.documents["/dialled"] = "<Response><Hangup/></Response>"
    await world.calls.place_call(request(world.receiver, customer.uri))
    await agent.wait_event("CALL_INCOMING", timeout=WAIT)
    await asyncio.sleep(0.5)
    await agent.answer()
    result = await loser.wait(timeout=WAIT)  # the scenario expects CANCEL, 487, ACK
    assert (result.successful, result.failed) == (1, 0), loser.log_tail()
    await asyncio.sleep(1.0)
    await agent.hangup()
    await customer.wait_event("CALL_CLOSED", timeout=WAIT)
    form = await dialled(world)
    assert form["DialCallStatus"] == "completed"
    kinds = classify(customer.recorded_wav, HEARD)
    assert kinds.count("agent") > FRAMES_PER_SECOND // 2, "the customer did not hear the agent"
    await nothing_left(world)


def early_media_scenario(workdir: Path, seconds: float) -> Path:
    """The early-media UAS scenario playing ``seconds`` of EARLY_TONE (raw mu-law)."""
    t = np.arange(int(8000 * seconds)) / 8000
    pcm = (0.3 * 32767 * np.sin(2 * np.pi * EARLY_TONE * t)).astype("<i2").tobytes()
    audio = workdir / "early.ulaw"
    audio.write_bytes(ulaw_encode(pcm))
    text = (SCENARIOS / "uas_early_media.xml").read_text()
    scenario = workdir / "uas_early_media.xml"
    scenario.write_text(text.replace("EARLY_AUDIO", str(audio)))
    return scenario


async def test_a_target_early_media_reaches_the_answered_caller(
    world: CallWorld, baresip: BaresipFactory, tmp_path: Path
) -> None:
    """The target answers 183 with SDP and plays 2 s of tone before its 200 (then sends
    nothing): every bit of that tone the customer hears is early media, relayed."""
    customer = await baresip("customer", auto_answer=True, tone_hz=CUSTOMER_TONE)
    scenario = early_media_scenario(tmp_path, 2.0)
    target = SippRun(scenario, workdir=tmp_path / "sipp", host=sipp_host(), calls=1, pause_ms=2500)
    async with target:
        world.receiver.documents["/app"] = (
            f'<Response><Dial timeout="10" action="/dialled">'
            f"<Sip>sip:early@{target.address}</Sip></Dial></Response>"
        )
        world.receiver.documents["/dialled"] = "<Response><Hangup/></Response>"
        await world.calls.place_call(request(world.receiver, customer.uri))
        await customer.wait_event("CALL_ESTABLISHED", timeout=WAIT)
        await asyncio.sleep(4.0)
        await customer.hangup()
        await customer.wait_event("CALL_CLOSED", timeout=WAIT)
        result = await target.wait(timeout=WAIT)
    assert result.successful == 1, target.log_tail()
    kinds = classify(customer.recorded_wav, HEARD)
    assert kinds.count("early") > 1.5 * FRAMES_PER_SECOND, runs(kinds)
    assert "ringback" not in kinds, "ringback while the target's early media played"
    await nothing_left(world)


async def test_caller_hanging_up_while_targets_ring_cancels_every_target(
    world: CallWorld, baresip: BaresipFactory, sipp_uas: SippUasFactory
) -> None:
    customer, phone = await asyncio.gather(
        baresip("customer", auto_answer=True, tone_hz=CUSTOMER_TONE), baresip("phone")
    )
    ringing = await sipp_uas(UasMode.RING_FOREVER, calls=1, rtp_echo=False)
    world.receiver.documents["/app"] = (
        '<Response><Dial timeout="20" action="/dialled">'
        f"<Sip>{phone.uri}</Sip><Sip>sip:ring@{ringing.address}</Sip>"
        "</Dial></Response>"
    )
    await world.calls.place_call(request(world.receiver, customer.uri))
    await phone.wait_event("CALL_INCOMING", timeout=WAIT)
    await asyncio.sleep(1.0)  # ringback plays meanwhile
    await customer.hangup()
    await phone.wait_event("CALL_CLOSED", timeout=WAIT)
    result = await ringing.wait(timeout=WAIT)
    assert (result.successful, result.failed) == (1, 0), ringing.log_tail()
    kinds = classify(customer.recorded_wav, HEARD)
    assert kinds.count("ringback") > 0.5 * FRAMES_PER_SECOND, runs(kinds)
    await nothing_left(world)


async def test_dial_time_limit_ends_the_agent_and_the_caller_goes_on(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    """timeLimit ends the bridged agent only; the customer's document goes on (its action
    is fetched with DialCallStatus=completed and the bridged seconds)."""
    customer, agent = await asyncio.gather(
        baresip("customer", auto_answer=True, tone_hz=CUSTOMER_TONE),
        baresip("agent", auto_answer=True, tone_hz=AGENT_TONE),
    )
    world.receiver.documents["/app"] = (
        f'<Response><Dial timeLimit="2" action="/dialled"><Sip>{agent.uri}</Sip></Dial></Response>'
    )
    world.receiver.documents["/dialled"] = "<Response><Hangup/></Response>"
    await world.calls.place_call(request(world.receiver, customer.uri))
    await agent.wait_event("CALL_ESTABLISHED", timeout=WAIT)
    await agent.wait_event("CALL_CLOSED", timeout=WAIT)
    form = await dialled(world)
    assert form["DialCallStatus"] == "completed"
    assert form["DialCallDuration"] == "2"
    await customer.wait_event("CALL_CLOSED", timeout=WAIT)
    await nothing_left(world)

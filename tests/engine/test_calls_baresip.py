"""The engine against baresip phones registered to it: a SIP stack nobody here wrote
(loopback only).

Each phone registers as one of the engine's users (1001, 1002) from its own 127.0.20.x
address and sends a sine of its own frequency.  Covered: registration (good and wrong
password, an interval the registrar raises, un-REGISTER); the engine ringing a phone and
playing a tone to it; an offline extension; phone to phone through the engine
(ExtensionDialer) with audio, DTMF and session refreshes both ways; both phones of one
user rung at once; RFC 4733 DTMF between engine and phone; busy, no answer, either side
giving up while it rings, and either side hanging up an answered call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from engine_setup import ENGINE_HOST, ENGINE_PORT, USERS

from audio_analysis import tone_frames
from callbridge.calls.extensions import ExtensionDialer
from callbridge.engine.engine import Engine, IncomingCall
from callbridge.engine.events import Direction, EndReason, LegEndedError, Party, Ringing
from callbridge.engine.indialog import DialogSession
from callbridge.engine.leg import CallLeg
from callbridge.engine.routing import UserOffline
from callbridge.media.inprocess import InProcessEndpoint, InProcessMediaPlane
from callbridge.media.sources import ToneSource
from callbridge.sip import registrar
from callbridge.sip.sdp import origin_of
from peers.baresip import Baresip
from peers.conftest import BaresipFactory
from peers.phones import registered_phone

pytestmark = pytest.mark.peers

REGISTRAR = f"{ENGINE_HOST}:{ENGINE_PORT}"
PASSWORDS = dict(USERS)
MEDIA_SECONDS = 1.5  # audio has no "enough received" event: let it flow this long
MIN_TONE_FRAMES = 25  # of the 75 frames in MEDIA_SECONDS
WAIT = 10.0  # generous bound on any one step


# --- helpers -----------------------------------------------------------------------


async def phone(
    baresip: BaresipFactory,
    user: str,
    tone_hz: float = 440.0,
    *,
    name: str | None = None,
    **options: Any,
) -> Baresip:
    """A baresip phone registered to the engine as ``user``, sending a ``tone_hz`` sine."""
    return await registered_phone(
        baresip,
        user,
        registrar=REGISTRAR,
        password=PASSWORDS[user],
        name=name,
        timeout=WAIT,
        tone_hz=tone_hz,
        **options,
    )


async def two_phones(baresip: BaresipFactory) -> tuple[Baresip, Baresip]:
    """1001 sending 440 Hz and 1002 sending 1000 Hz."""
    a, b = await asyncio.gather(phone(baresip, "1001", 440.0), phone(baresip, "1002", 1000.0))
    return a, b


async def rung(engine: Engine, target: Baresip, **kwargs: float) -> CallLeg:
    """The engine calls ``target``'s extension; returns once the phone rings."""
    leg = await engine.originate(target.user, **kwargs)
    await target.wait_event("CALL_INCOMING", timeout=WAIT)
    return leg


async def answered(engine: Engine, target: Baresip) -> CallLeg:
    leg = await rung(engine, target)
    await target.answer()
    async with asyncio.timeout(WAIT):
        await leg.wait_answered()
    await target.wait_event("CALL_ESTABLISHED", timeout=WAIT)
    return leg


async def ended(leg: CallLeg) -> tuple[EndReason, Party, int | None]:
    async with asyncio.timeout(WAIT):
        end = await leg.wait_ended()
    return end.reason, end.by, end.sip_code


async def closed(*peers: Baresip) -> list[str]:
    """Each peer's next CALL_CLOSED reason (e.g. "486 Busy Here")."""
    events = await asyncio.gather(*(p.wait_event("CALL_CLOSED", timeout=WAIT) for p in peers))
    return [str(e.get("param", "")) for e in events]


def bridge_legs(engine: Engine) -> tuple[CallLeg, CallLeg]:
    """(from the caller, to the callee): the two legs of the one call in progress."""
    legs = list(engine.legs.values())
    inbound = [leg for leg in legs if leg.direction is Direction.INBOUND]
    outbound = [leg for leg in legs if leg.direction is Direction.OUTBOUND]
    assert (len(inbound), len(outbound)) == (1, 1), legs
    return inbound[0], outbound[0]


async def dial_through_engine(
    engine: Engine, caller: Baresip, callee: Baresip
) -> tuple[CallLeg, CallLeg]:
    """``caller`` dials ``callee``'s extension at the engine; returns once it rings there."""
    await caller.dial(f"sip:{callee.user}@{REGISTRAR}")
    incoming = await callee.wait_event("CALL_INCOMING", timeout=WAIT)
    assert caller.user in incoming.get("peeruri", ""), incoming
    return bridge_legs(engine)


class Switchboard:
    """ExtensionDialer that remembers the calls it was handed."""

    def __init__(self, engine: Engine, *, max_duration: float | None = None) -> None:
        self.calls: list[IncomingCall] = []
        self._dialer = ExtensionDialer(engine=engine, max_duration=max_duration)

    async def handle(self, call: IncomingCall) -> None:
        self.calls.append(call)
        await self._dialer.handle(call)


@pytest.fixture
def switchboard(engine: Engine) -> Switchboard:
    board = Switchboard(engine)
    engine.set_incoming_handler(board)
    return board


async def eventually(predicate: Callable[[], bool], what: str) -> None:
    """Poll until ``predicate`` holds; fail after WAIT seconds."""
    for _ in range(int(WAIT / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


@pytest.fixture(autouse=True)
async def nothing_left_over(engine: Engine) -> AsyncIterator[None]:
    """After each test every leg is gone and every RTP port is back in the pool."""
    yield
    plane = engine.media
    assert isinstance(plane, InProcessMediaPlane)
    await eventually(lambda: not engine.legs and not plane.pool.leased, "all legs released")


def sdp_origin(leg: CallLeg) -> tuple[int, int] | None:
    """(sess-id, version) of the SDP the engine last sent on ``leg``."""
    signalling = leg.signalling
    assert isinstance(signalling, DialogSession)
    return origin_of(signalling.local_sdp)


# --- 1. registration ---------------------------------------------------------------


async def test_phone_registers_and_a_wrong_password_is_refused(
    engine: Engine, baresip: BaresipFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libre (baresip's SIP stack) answers each 401 again with the password just rejected,
    # 16 times (RFC 3261 §22.1 says it must not); the registrar's brake on repeated
    # failures would stretch that to ~80 s, so it is off here (unit tests cover it).
    monkeypatch.setattr(registrar, "FAILURES_BEFORE_DELAY", 1000)
    good, bad = await asyncio.gather(
        phone(baresip, "1001"),
        baresip("1002", registrar=REGISTRAR, password="not-" + PASSWORDS["1002"]),
    )
    refused = await bad.wait_event("REGISTER_FAIL", timeout=WAIT)
    assert "401" in refused.get("param", ""), refused

    [binding] = engine.registrar.lookup("1001")
    assert binding.peer.host == good.host
    assert binding.contact.endswith(f"@{good.host}:{good.port}"), binding
    assert engine.registrar.lookup("1002") == []

    await good.stop()  # baresip un-REGISTERs (expires=0) as it quits
    assert engine.registrar.lookup("1001") == []


async def test_too_brief_registration_interval_is_raised(
    engine: Engine, baresip: BaresipFactory
) -> None:
    peer = await phone(baresip, "1001", regint=10)  # registered after 423 with Min-Expires
    assert not [e for e in peer.events if e["type"] == "REGISTER_FAIL"]
    [binding] = engine.registrar.lookup("1001")
    assert binding.expires_at - time.monotonic() > registrar.MIN_EXPIRES - 10


# --- 2. the engine calls a phone ---------------------------------------------------


async def test_engine_rings_a_phone_and_plays_a_tone(
    engine: Engine, baresip: BaresipFactory, tmp_path: Path
) -> None:
    a = await phone(baresip, "1001", 440.0)
    leg = await answered(engine, a)
    leg.record(tmp_path / "from-phone.wav")
    assert await leg.play(ToneSource(frequencies=(1000,), duration_s=MEDIA_SECONDS))
    leg.stop_recording()
    end = await leg.hangup()
    await closed(a)
    assert (end.reason, end.by) == (EndReason.HUNG_UP, Party.LOCAL)
    assert Ringing() in leg.history
    assert tone_frames(a.recorded_wav, 1000.0) > MIN_TONE_FRAMES, "the phone heard no tone"
    assert tone_frames(tmp_path / "from-phone.wav", 440.0) > MIN_TONE_FRAMES, "nor the engine"


async def test_a_phone_holding_the_call_is_sent_no_media_until_it_resumes(
    engine: Engine, baresip: BaresipFactory
) -> None:
    a = await phone(baresip, "1001", 440.0)
    leg = await answered(engine, a)
    assert isinstance(leg.media, InProcessEndpoint)
    session = leg.media.session
    playing = asyncio.ensure_future(leg.play(ToneSource(frequencies=(1000,), duration_s=30)))
    try:
        await eventually(lambda: session.packets_sent > 10, "the engine sends the tone")
        await a.command("hold")  # a re-INVITE with a=sendonly
        await eventually(lambda: session.remote is not None and not session.remote.receives, "hold")
        held_at = session.packets_sent
        await asyncio.sleep(0.5)
        assert session.packets_sent == held_at, "RTP went on to a phone that holds the call"
        await a.command("resume")
        await eventually(lambda: session.packets_sent > held_at + 10, "media after the resume")
    finally:
        playing.cancel()
        await asyncio.gather(playing, return_exceptions=True)
    await leg.hangup()
    await closed(a)


async def test_offline_extension(
    engine: Engine, baresip: BaresipFactory, switchboard: Switchboard
) -> None:
    with pytest.raises(UserOffline):  # 1002 never registered
        await engine.originate("1002")
    assert engine.legs == {}

    a = await phone(baresip, "1001", 440.0)
    await a.dial(f"sip:1002@{REGISTRAR}")
    [reason] = await closed(a)
    assert "480" in reason, reason
    [call] = switchboard.calls
    assert await ended(call.leg) == (EndReason.OFFLINE, Party.LOCAL, 480)


# --- 3. phone to phone through the engine ------------------------------------------


async def test_phones_talk_through_the_engine(
    engine: Engine, baresip: BaresipFactory, switchboard: Switchboard
) -> None:
    a, b = await two_phones(baresip)
    caller, callee = await dial_through_engine(engine, a, b)
    assert (caller.caller.user, callee.callee.user, callee.caller.user) == ("1001", "1002", "1001")
    await b.answer()
    await asyncio.gather(
        a.wait_event("CALL_ESTABLISHED", timeout=WAIT),
        b.wait_event("CALL_ESTABLISHED", timeout=WAIT),
    )
    await asyncio.sleep(MEDIA_SECONDS)

    # DTMF is relayed as RFC 4733 events both ways.
    await a.send_dtmf("19#")
    for _ in range(3):
        await b.wait_event("CALL_DTMF_END", timeout=WAIT)
    await b.send_dtmf("*0")
    for _ in range(2):
        await a.wait_event("CALL_DTMF_END", timeout=WAIT)
    assert (b.received_dtmf, a.received_dtmf) == ("19#", "*0")

    # Session refreshes (re-INVITE) from either phone: the engine's answer keeps its o=
    # session id and steps the version (RFC 3264 §8); the audio keeps flowing.
    for peer, leg in ((a, caller), (b, callee)):
        before = sdp_origin(leg)
        assert before is not None
        await peer.command("reinvite")
        await eventually(lambda: sdp_origin(leg) != before, "the re-INVITE was answered")  # noqa: B023
        assert sdp_origin(leg) == (before[0], before[1] + 1)
    await asyncio.sleep(MEDIA_SECONDS)

    await a.hangup()  # the caller hanging up ends the callee too
    await closed(a, b)
    assert await ended(caller) == (EndReason.HUNG_UP, Party.REMOTE, None)
    assert (await ended(callee))[:2] == (EndReason.HUNG_UP, Party.LOCAL)
    assert tone_frames(b.recorded_wav, 440.0) > 2 * MIN_TONE_FRAMES, "1002 did not hear 1001"
    assert tone_frames(a.recorded_wav, 1000.0) > 2 * MIN_TONE_FRAMES, "1001 did not hear 1002"


async def test_callee_phone_hanging_up_ends_the_caller(
    engine: Engine, baresip: BaresipFactory, switchboard: Switchboard
) -> None:
    a, b = await two_phones(baresip)
    caller, callee = await dial_through_engine(engine, a, b)
    await b.answer()
    await a.wait_event("CALL_ESTABLISHED", timeout=WAIT)
    await b.hangup()
    await closed(a, b)
    assert await ended(callee) == (EndReason.HUNG_UP, Party.REMOTE, None)
    assert (await ended(caller))[:2] == (EndReason.HUNG_UP, Party.LOCAL)


async def test_a_phone_call_is_ended_once_it_lasted_max_duration(
    engine: Engine, baresip: BaresipFactory
) -> None:
    """Issue 15 item 8: any call ends after ``[calls] max_duration``, calls between phones
    (which no API lists) too."""
    engine.set_incoming_handler(Switchboard(engine, max_duration=2.0))
    a, b = await two_phones(baresip)
    caller, callee = await dial_through_engine(engine, a, b)
    await b.answer()
    await a.wait_event("CALL_ESTABLISHED", timeout=WAIT)
    await closed(a, b)
    cause = "max_duration reached: the call lasted 2 s"
    for leg in (caller, callee):
        ended_leg = await leg.wait_ended()
        assert (ended_leg.reason, ended_leg.by, ended_leg.detail) == (
            EndReason.HUNG_UP,
            Party.LOCAL,
            cause,
        )


async def test_both_phones_of_a_user_ring(
    engine: Engine, baresip: BaresipFactory, switchboard: Switchboard
) -> None:
    a, desk, mobile = await asyncio.gather(
        phone(baresip, "1001", 440.0),
        phone(baresip, "1002", 1000.0, name="desk"),
        phone(baresip, "1002", 700.0, name="mobile"),
    )
    assert len(engine.registrar.lookup("1002")) == 2
    await a.dial(f"sip:1002@{REGISTRAR}")
    await asyncio.gather(
        desk.wait_event("CALL_INCOMING", timeout=WAIT),
        mobile.wait_event("CALL_INCOMING", timeout=WAIT),
    )
    await desk.hangup()  # busy there: the mobile keeps ringing
    await closed(desk)
    await mobile.answer()
    await a.wait_event("CALL_ESTABLISHED", timeout=WAIT)
    await asyncio.sleep(MEDIA_SECONDS)
    await a.hangup()
    await closed(a, mobile)
    assert tone_frames(a.recorded_wav, 700.0) > MIN_TONE_FRAMES, "1001 did not hear the mobile"
    assert desk.recorded_wav is None


# --- 4. DTMF -----------------------------------------------------------------------


async def test_dtmf_between_engine_and_phone(engine: Engine, baresip: BaresipFactory) -> None:
    a = await phone(baresip, "1001", 440.0)
    leg = await answered(engine, a)

    await leg.send_dtmf("123#")
    for _ in range(4):
        await a.wait_event("CALL_DTMF_START", timeout=WAIT)
    assert a.received_dtmf == "123#"
    # baresip's jitter buffer lets a packet out only when the next one comes in, and the
    # engine sends nothing while idle: the last digit's end packets leave with the audio.
    assert await leg.play(ToneSource(frequencies=(1000,), duration_s=0.5))
    for _ in range(4):
        await a.wait_event("CALL_DTMF_END", timeout=WAIT)

    await a.send_dtmf("4567#")
    async with asyncio.timeout(WAIT):
        digits = await leg.collect_digits(max_digits=10, timeout=WAIT)
    assert digits == "4567"

    await leg.hangup()
    await closed(a)


# --- 5. calls that end before or after an answer -----------------------------------


async def test_phone_rejects_busy(engine: Engine, baresip: BaresipFactory) -> None:
    a = await phone(baresip, "1001", 440.0)
    leg = await rung(engine, a)
    await a.hangup()  # on a ringing call: 486 Busy Here
    assert await ended(leg) == (EndReason.BUSY, Party.REMOTE, 486)
    await closed(a)
    with pytest.raises(LegEndedError):
        await leg.wait_answered()


async def test_busy_callee_phone_is_relayed_to_the_caller(
    engine: Engine, baresip: BaresipFactory, switchboard: Switchboard
) -> None:
    a, b = await two_phones(baresip)
    caller, callee = await dial_through_engine(engine, a, b)
    await b.hangup()
    reasons = await closed(a, b)
    assert "486" in reasons[0], reasons
    assert await ended(callee) == (EndReason.BUSY, Party.REMOTE, 486)
    assert await ended(caller) == (EndReason.BUSY, Party.LOCAL, 486)


async def test_no_answer_is_cancelled_at_the_ring_timeout(
    engine: Engine, baresip: BaresipFactory
) -> None:
    a = await phone(baresip, "1001", 440.0)
    leg = await rung(engine, a, ring_timeout=1.0)
    assert await ended(leg) == (EndReason.NO_ANSWER, Party.LOCAL, None)
    await closed(a)


async def test_engine_gives_up_while_it_rings(engine: Engine, baresip: BaresipFactory) -> None:
    a = await phone(baresip, "1001", 440.0)
    leg = await rung(engine, a)
    end = await leg.hangup()
    assert (end.reason, end.by) == (EndReason.CANCELLED, Party.LOCAL)
    await closed(a)


async def test_caller_phone_gives_up_while_the_callee_rings(
    engine: Engine, baresip: BaresipFactory, switchboard: Switchboard
) -> None:
    a, b = await two_phones(baresip)
    caller, callee = await dial_through_engine(engine, a, b)
    await a.hangup()  # CANCEL to the engine, which CANCELs its INVITE to 1002
    await closed(a, b)
    assert await ended(caller) == (EndReason.CANCELLED, Party.REMOTE, 487)
    assert (await ended(callee))[:2] == (EndReason.CANCELLED, Party.LOCAL)


async def test_phone_hangs_up_while_the_engine_plays(
    engine: Engine, baresip: BaresipFactory
) -> None:
    a = await phone(baresip, "1001", 440.0)
    leg = await answered(engine, a)
    playing = asyncio.create_task(leg.play(ToneSource(frequencies=(1000,), duration_s=None)))
    await asyncio.sleep(0.3)
    await a.hangup()
    assert await ended(leg) == (EndReason.HUNG_UP, Party.REMOTE, None)
    async with asyncio.timeout(WAIT):
        assert await playing is False
    await closed(a)

"""Dead calls with baresip phones (loopback): a phone that dies in a call (SIGKILL: no BYE,
no more RTP) is hung up after the RTP timeout; a phone holding the call is not; a phone's
call is kept up by the engine's session refreshes, which baresip answers.

baresip does not ask for RFC 4028 session timers itself (no ``Supported: timer``), so
the engine applies its own and is the refresher.  The engine here: RTP timeout 2 s,
session timer 4 s (``min_se`` 2: below RFC 4028's 90, for the test's length)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from engine_setup import ENGINE_HOST, FAST_TIMERS, USERS

from callbridge.engine.engine import Engine, EngineSettings, IncomingCall
from callbridge.engine.events import EndReason, Party
from callbridge.engine.indialog import DialogSession
from callbridge.engine.leg import CallLeg
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.sources import ToneSource
from callbridge.media.tts import Tts
from callbridge.sip.session_timer import SessionTimerPolicy
from peers.baresip import Baresip
from peers.conftest import BaresipFactory
from peers.phones import registered_phone

# A port of their own: the other engine tests (and their runs elsewhere) hold 5071.
ENGINE_PORT = 5173

pytestmark = pytest.mark.peers

RTP_TIMEOUT = 2.0
WAIT = 10.0


@pytest.fixture
async def live_engine(tts_cache: Path) -> AsyncIterator[Engine]:
    plane = InProcessMediaPlane(
        host=ENGINE_HOST, port_start=42400, port_end=42499, rtp_timeout=RTP_TIMEOUT
    )
    instance = Engine(
        settings=EngineSettings(
            host=ENGINE_HOST,
            port=ENGINE_PORT,
            users=USERS,
            timers=FAST_TIMERS,
            session_timers=SessionTimerPolicy(session_expires=4, min_se=2),
        ),
        media=plane,
        tts=Tts(cache_dir=tts_cache),
    )
    await instance.start()
    yield instance
    await instance.close()


async def phone(baresip: BaresipFactory, user: str) -> Baresip:
    return await registered_phone(
        baresip,
        user,
        registrar=f"{ENGINE_HOST}:{ENGINE_PORT}",
        password=dict(USERS)[user],
        timeout=WAIT,
        tone_hz=440.0,
    )


async def answered(engine: Engine, target: Baresip) -> CallLeg:
    leg = await engine.originate(target.user)
    await target.wait_event("CALL_INCOMING", timeout=WAIT)
    await target.answer()
    async with asyncio.timeout(WAIT):
        await leg.wait_answered()
    await target.wait_event("CALL_ESTABLISHED", timeout=WAIT)
    return leg


async def test_a_phone_that_dies_in_a_call_is_hung_up(
    live_engine: Engine, baresip: BaresipFactory
) -> None:
    a = await phone(baresip, "1001")
    leg = await answered(live_engine, a)
    await asyncio.sleep(RTP_TIMEOUT + 0.5)
    assert leg.ended is None, "a phone that sends RTP was timed out"
    await a.kill()
    async with asyncio.timeout(RTP_TIMEOUT + 3):
        ended = await leg.wait_ended()
    assert (ended.reason, ended.by) == (EndReason.RTP_TIMEOUT, Party.LOCAL)


async def test_a_phone_holding_the_call_is_not_hung_up(
    live_engine: Engine, baresip: BaresipFactory
) -> None:
    a = await phone(baresip, "1001")
    leg = await answered(live_engine, a)
    await a.command("hold")  # re-INVITE a=sendonly; baresip then sends no RTP
    await asyncio.sleep(2 * RTP_TIMEOUT + 1)
    assert leg.ended is None, "a held call was timed out"
    await a.command("resume")
    await asyncio.sleep(1)
    assert leg.ended is None
    await leg.hangup()
    await a.wait_event("CALL_CLOSED", timeout=WAIT)


class AnswerAndPlay:
    def __init__(self) -> None:
        self.calls: list[IncomingCall] = []

    async def handle(self, call: IncomingCall) -> None:
        self.calls.append(call)
        await call.leg.answer()
        await call.leg.play(ToneSource(frequencies=(1000,), duration_s=None))


async def test_the_engine_refreshes_a_phone_call_and_the_phone_answers(
    live_engine: Engine, baresip: BaresipFactory
) -> None:
    handler = AnswerAndPlay()
    live_engine.set_incoming_handler(handler)
    a = await phone(baresip, "1001")
    await a.dial(f"sip:2000@{ENGINE_HOST}:{ENGINE_PORT}")
    await a.wait_event("CALL_ESTABLISHED", timeout=WAIT)
    [call] = handler.calls
    assert "timer" not in (call.request.get_header("supported") or "")
    signalling = call.leg.signalling
    assert isinstance(signalling, DialogSession)
    assert signalling.dialog is not None
    await asyncio.sleep(5.0)  # the session expires at 4 s unless refreshed (at 2 and 4 s)
    assert call.leg.ended is None
    assert signalling.dialog.local_seq >= 2, "no refresh was sent"
    await a.hangup()
    async with asyncio.timeout(WAIT):
        ended = await call.leg.wait_ended()
    assert (ended.reason, ended.by) == (EndReason.HUNG_UP, Party.REMOTE)

"""Dead calls end: an answered leg whose peer sends no RTP for the RTP timeout is ended
with a BYE (reason ``rtp_timeout``), unless the peer holds the call (SIPp, loopback)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from engine_setup import ENGINE_HOST, FAST_TIMERS, TRUNK_HOST, TRUNK_PORT, USERS

from callbridge.engine.engine import Engine, EngineSettings, IncomingCall
from callbridge.engine.events import EndReason, Party
from callbridge.engine.routing import Trunk
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from peers.sipp import SippRun

# A port of their own: the other engine tests (and their runs elsewhere) hold 5071.
ENGINE_PORT = 5173

pytestmark = [
    pytest.mark.peers,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed"),
]

RTP_TIMEOUT = 2.0


@pytest.fixture
async def live_engine(tts_cache: Path) -> AsyncIterator[Engine]:
    plane = InProcessMediaPlane(
        host=ENGINE_HOST, port_start=42200, port_end=42299, rtp_timeout=RTP_TIMEOUT
    )
    instance = Engine(
        settings=EngineSettings(
            host=ENGINE_HOST,
            port=ENGINE_PORT,
            users=USERS,
            trunks=(Trunk(name="carrier", uri=f"sip:{TRUNK_HOST}:{TRUNK_PORT}", default=True),),
            timers=FAST_TIMERS,
        ),
        media=plane,
        tts=Tts(cache_dir=tts_cache),
    )
    await instance.start()
    yield instance
    await instance.close()


class AnswerAndWait:
    """Answers every call and leaves it up (the silence fill streams to the caller)."""

    def __init__(self) -> None:
        self.calls: list[IncomingCall] = []

    async def handle(self, call: IncomingCall) -> None:
        self.calls.append(call)
        await call.leg.answer()
        await call.leg.wait_ended()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def released(engine: Engine) -> None:
    """The engine has reaped every leg (the reap runs just after the end)."""
    await asyncio.sleep(0.1)
    assert not engine.legs


async def test_silent_callee_is_ended_with_bye(live_engine: Engine, tmp_path: Path) -> None:
    plane = live_engine.media
    assert isinstance(plane, InProcessMediaPlane)
    fds: list[int] = []
    for _ in range(2):  # the second call reuses the first one's RTP socket: no fd is kept
        # SIPp answers, sends no RTP (no -rtp_echo) and waits for our BYE.
        uas = SippRun("uas_answer", workdir=tmp_path, host=TRUNK_HOST, port=TRUNK_PORT)
        async with uas:
            leg = await live_engine.originate("15550100")
            await leg.wait_answered()
            answered_at = asyncio.get_running_loop().time()
            ended = await asyncio.wait_for(leg.wait_ended(), RTP_TIMEOUT + 3)
            lasted = asyncio.get_running_loop().time() - answered_at
            result = await uas.wait()
        assert (ended.reason, ended.by) == (EndReason.RTP_TIMEOUT, Party.LOCAL)
        assert RTP_TIMEOUT <= lasted < RTP_TIMEOUT + 1.5
        assert (result.successful, result.failed) == (1, 0), result.errors  # BYE got there
        assert leg.media.packets_sent > 0  # we kept streaming: only the peer's silence counts
        await released(live_engine)
        assert plane.pool.leased == 0
        assert len(leg.tasks) == 0
        fds.append(open_fds())
    assert fds[1] <= fds[0]


async def test_silent_caller_is_ended_with_bye(live_engine: Engine, tmp_path: Path) -> None:
    handler = AnswerAndWait()
    live_engine.set_incoming_handler(handler)
    uac = SippRun(
        "uac_expect_bye",
        workdir=tmp_path,
        host=TRUNK_HOST,
        target=f"{ENGINE_HOST}:{ENGINE_PORT}",
        service="2000",
    )
    result = await uac.run(timeout=RTP_TIMEOUT + 10)
    assert (result.successful, result.failed) == (1, 0), result.errors
    ended = await handler.calls[0].leg.wait_ended()
    assert (ended.reason, ended.by) == (EndReason.RTP_TIMEOUT, Party.LOCAL)
    await released(live_engine)


async def test_held_call_is_not_ended(live_engine: Engine, tmp_path: Path) -> None:
    handler = AnswerAndWait()
    live_engine.set_incoming_handler(handler)
    uac = SippRun(
        "uac_hold",
        workdir=tmp_path,
        host=TRUNK_HOST,
        target=f"{ENGINE_HOST}:{ENGINE_PORT}",
        service="2000",
        pause_ms=int((RTP_TIMEOUT + 2) * 1000),  # on hold, silent, twice the timeout
    )
    result = await uac.run(timeout=RTP_TIMEOUT + 15)
    assert (result.successful, result.failed) == (1, 0), result.errors
    ended = await handler.calls[0].leg.wait_ended()
    assert (ended.reason, ended.by) == (EndReason.HUNG_UP, Party.REMOTE)

"""RFC 4028 session timers against SIPp (loopback): a session nobody refreshes ends with a
BYE, one that is refreshed stays up, on either side of the call and as either refresher.

The engine asks for 4 s and accepts 2 s and more: far below RFC 4028's minimum of 90 s
(``[sip] min_se`` allows it, for tests like these), so each test takes seconds.  SIPp
sends no RTP here: the RTP timeout is off."""

from __future__ import annotations

import asyncio
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
from callbridge.sip.session_timer import SessionTimerPolicy
from peers.sipp import SippResult, SippRun

# A port of their own: the other engine tests (and their runs elsewhere) hold 5071.
ENGINE_PORT = 5173

pytestmark = [
    pytest.mark.peers,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed"),
]


@pytest.fixture
async def timed_engine(tts_cache: Path) -> AsyncIterator[Engine]:
    plane = InProcessMediaPlane(host=ENGINE_HOST, port_start=42300, port_end=42399)
    instance = Engine(
        settings=EngineSettings(
            host=ENGINE_HOST,
            port=ENGINE_PORT,
            users=USERS,
            trunks=(Trunk(name="carrier", uri=f"sip:{TRUNK_HOST}:{TRUNK_PORT}", default=True),),
            timers=FAST_TIMERS,
            session_timers=SessionTimerPolicy(session_expires=4, min_se=2),
        ),
        media=plane,
        tts=Tts(cache_dir=tts_cache),
    )
    await instance.start()
    yield instance
    await instance.close()


class AnswerAndWait:
    def __init__(self) -> None:
        self.calls: list[IncomingCall] = []

    async def handle(self, call: IncomingCall) -> None:
        self.calls.append(call)
        await call.leg.answer()
        await call.leg.wait_ended()


async def call_in(
    engine: Engine, scenario: str, tmp_path: Path
) -> tuple[SippResult, AnswerAndWait]:
    handler = AnswerAndWait()
    engine.set_incoming_handler(handler)
    uac = SippRun(
        scenario,
        workdir=tmp_path,
        host=TRUNK_HOST,
        target=f"{ENGINE_HOST}:{ENGINE_PORT}",
        service="2000",
    )
    return await uac.run(timeout=20), handler


def assert_one_call(result: SippResult) -> None:
    assert (result.successful, result.failed) == (1, 0), result.errors or result.stats


async def test_a_caller_that_never_refreshes_gets_a_bye(
    timed_engine: Engine, tmp_path: Path
) -> None:
    result, handler = await call_in(timed_engine, "uac_timer_no_refresh", tmp_path)
    assert_one_call(result)
    ended = await handler.calls[0].leg.wait_ended()
    assert (ended.reason, ended.by) == (EndReason.SESSION_EXPIRED, Party.LOCAL)


async def test_a_caller_that_refreshes_keeps_the_call(timed_engine: Engine, tmp_path: Path) -> None:
    """Refreshed by re-INVITE and UPDATE for 5 s, 2.5 times the session's expiry."""
    result, handler = await call_in(timed_engine, "uac_timer_refreshes", tmp_path)
    assert_one_call(result)
    ended = await handler.calls[0].leg.wait_ended()
    assert (ended.reason, ended.by) == (EndReason.HUNG_UP, Party.REMOTE)


async def test_an_interval_below_min_se_gets_422_and_the_retry_is_answered(
    timed_engine: Engine, tmp_path: Path
) -> None:
    result, handler = await call_in(timed_engine, "uac_timer_too_small", tmp_path)
    assert_one_call(result)
    assert len(handler.calls) == 1  # the refused INVITE never became a call


async def test_we_refresh_a_caller_without_timer_support(
    timed_engine: Engine, tmp_path: Path
) -> None:
    """The caller allows UPDATE: two refreshes come at 2 s intervals, the call stays up."""
    result, handler = await call_in(timed_engine, "uac_timer_callee_refreshes", tmp_path)
    assert_one_call(result)
    ended = await handler.calls[0].leg.wait_ended()
    assert (ended.reason, ended.by) == (EndReason.HUNG_UP, Party.REMOTE)


async def test_a_refresh_answered_481_ends_the_call(timed_engine: Engine, tmp_path: Path) -> None:
    result, handler = await call_in(timed_engine, "uac_timer_refresh_481", tmp_path)
    assert_one_call(result)
    ended = await handler.calls[0].leg.wait_ended()
    assert (ended.reason, ended.by, ended.sip_code) == (
        EndReason.SESSION_EXPIRED,
        Party.LOCAL,
        481,
    )


async def test_we_refresh_a_callee_that_asks_us_to(timed_engine: Engine, tmp_path: Path) -> None:
    uas = SippRun("uas_timer_caller_refreshes", workdir=tmp_path, host=TRUNK_HOST, port=TRUNK_PORT)
    async with uas:
        leg = await timed_engine.originate("15550100")
        await leg.wait_answered()
        await asyncio.sleep(3.6)  # two refreshes (at 1.5 and 3 s); the session expires at 3
        assert leg.ended is None
        await leg.hangup()
        result = await uas.wait()
    assert_one_call(result)


async def test_a_callee_that_never_refreshes_gets_a_bye(
    timed_engine: Engine, tmp_path: Path
) -> None:
    uas = SippRun("uas_timer_no_refresh", workdir=tmp_path, host=TRUNK_HOST, port=TRUNK_PORT)
    async with uas:
        leg = await timed_engine.originate("15550100")
        await leg.wait_answered()
        ended = await asyncio.wait_for(leg.wait_ended(), 5)
        result = await uas.wait()
    assert (ended.reason, ended.by) == (EndReason.SESSION_EXPIRED, Party.LOCAL)
    assert_one_call(result)

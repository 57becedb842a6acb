"""Presence with a real phone (baresip, loopback): offline until it registers, online once
registered, busy while a call to it is answered, online again when that call ends,
wrap-up for the seconds given to ``rest``, offline once the phone unregisters
(baresip's stop sends REGISTER Expires: 0).  Calls today count answered calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from engine_setup import ENGINE_HOST, FAST_TIMERS, USERS

from callbridge.calls.presence import Presence, PresenceState
from callbridge.engine.engine import Engine, EngineSettings
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from peers.conftest import BaresipFactory
from peers.phones import registered_phone

ENGINE_PORT = 5240  # originate's range (5240-5259, RTP 47600-47999)

pytestmark = pytest.mark.peers

WAIT = 10.0


@pytest.fixture
async def engine(tts_cache: Path) -> AsyncIterator[Engine]:
    plane = InProcessMediaPlane(host=ENGINE_HOST, port_start=47600, port_end=47649)
    instance = Engine(
        settings=EngineSettings(
            host=ENGINE_HOST, port=ENGINE_PORT, users=USERS, timers=FAST_TIMERS
        ),
        media=plane,
        tts=Tts(cache_dir=tts_cache),
    )
    await instance.start()
    yield instance
    await instance.close()


async def until(predicate: Callable[[], bool]) -> None:
    """Poll: presence is read, it announces nothing."""
    for _ in range(int(WAIT / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("presence did not change in time")


async def test_presence_follows_registration_and_calls(
    engine: Engine, baresip: BaresipFactory
) -> None:
    presence = Presence(contacts=engine.registrar, extensions=[u for u, _ in USERS])
    engine.watch_legs(presence.watch)
    assert presence.state("1001") is PresenceState.OFFLINE

    phone = await registered_phone(
        baresip,
        "1001",
        registrar=f"{ENGINE_HOST}:{ENGINE_PORT}",
        password=dict(USERS)["1001"],
        timeout=WAIT,
    )
    assert presence.state("1001") is PresenceState.ONLINE
    assert presence.state("1002") is PresenceState.OFFLINE
    assert len(presence.user("1001").contacts) == 1

    leg = await engine.originate("1001")
    await phone.wait_event("CALL_INCOMING", timeout=WAIT)
    assert presence.state("1001") is PresenceState.ONLINE  # ringing is not busy
    await phone.answer()
    async with asyncio.timeout(WAIT):
        await leg.wait_answered()
    assert presence.state("1001") is PresenceState.BUSY
    presence.rest("1001", 60)
    assert presence.state("1001") is PresenceState.BUSY  # busy wins over wrap-up

    await leg.hangup()
    assert presence.state("1001") is PresenceState.WRAPUP
    presence.rest("1001", 0.2)
    await until(lambda: presence.state("1001") is PresenceState.ONLINE)
    assert presence.user("1001").calls_today == 1
    assert presence.user("1002").calls_today == 0

    await phone.stop()
    await until(lambda: presence.state("1001") is PresenceState.OFFLINE)

"""Queue tests: a real engine on loopback (SIP 5260, RTP 48000-48199), baresip phones
registered as members, SIPp and baresip callers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from queue_world import ENGINE_HOST, ENGINE_PORT, USERS

from callbridge.engine.engine import Engine, EngineSettings
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from callbridge.sip.transaction import Timers
from peers.conftest import (  # noqa: F401  (fixtures shared with the peer tests)
    baresip,
    sipp_uac,
    sipp_uas,
)

FAST_TIMERS = Timers(t1=0.1, t2=0.4, t4=0.5, d=1.0)


@pytest.fixture(scope="session")
def tts_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tts")


@pytest.fixture
async def engine(tts_cache: Path) -> AsyncIterator[Engine]:
    plane = InProcessMediaPlane(host=ENGINE_HOST, port_start=48000, port_end=48199)
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

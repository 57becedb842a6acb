"""An Engine on loopback with short SIP timers, for tests against real peers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from engine_setup import ENGINE_HOST, ENGINE_PORT, FAST_TIMERS, TRUNK_HOST, TRUNK_PORT, USERS

from callbridge.engine.engine import Engine, EngineSettings
from callbridge.engine.routing import Trunk
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from peers.conftest import baresip  # noqa: F401  (the fixture, shared with the peer tests)


@pytest.fixture(scope="session")
def tts_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tts")


@pytest.fixture
def trunks() -> tuple[Trunk, ...]:
    return (Trunk(name="carrier", uri=f"sip:{TRUNK_HOST}:{TRUNK_PORT}", default=True),)


@pytest.fixture
async def engine(tts_cache: Path, trunks: tuple[Trunk, ...]) -> AsyncIterator[Engine]:
    plane = InProcessMediaPlane(host=ENGINE_HOST, port_start=42000, port_end=42199)
    instance = Engine(
        settings=EngineSettings(
            host=ENGINE_HOST,
            port=ENGINE_PORT,
            users=USERS,
            trunks=trunks,
            timers=FAST_TIMERS,
        ),
        media=plane,
        tts=Tts(cache_dir=tts_cache),
    )
    await instance.start()
    yield instance
    await instance.close()

"""An engine on 127.0.0.1:5300 offering message-summary, with counts the test sets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mwi_setup import MWI_HOST, MWI_LIMITS, MWI_PORT, MWI_TIMERS, MWI_USERS, Mailboxes

from callbridge.engine.engine import Engine, EngineSettings
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from peers.conftest import baresip, sipp_uac  # noqa: F401  (the fixtures)


@pytest.fixture
def mailboxes() -> Mailboxes:
    return Mailboxes()


@pytest.fixture
async def mwi_engine(tmp_path: Path, mailboxes: Mailboxes) -> AsyncIterator[Engine]:
    engine = Engine(
        settings=EngineSettings(
            host=MWI_HOST,
            port=MWI_PORT,
            users=MWI_USERS,
            timers=MWI_TIMERS,
            subscriptions=MWI_LIMITS,
        ),
        media=InProcessMediaPlane(host=MWI_HOST, port_start=49000, port_end=49099),
        tts=Tts(cache_dir=tmp_path / "tts"),
    )
    engine.message_waiting.serve(mailboxes)
    await engine.start()
    yield engine
    await engine.close()

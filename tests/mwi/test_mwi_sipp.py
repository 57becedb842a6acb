"""SIPp as the subscriber (scenarios in ./scenarios): subscribe with digest, refresh,
unsubscribe; a package not offered; a wrong password.  After each, nothing is held."""

from __future__ import annotations

from pathlib import Path

import pytest
from mwi_setup import MWI_HOST, MWI_PORT, Mailboxes

from callbridge.engine.engine import Engine
from peers.conftest import SippUacFactory

pytestmark = pytest.mark.peers

SCENARIOS = Path(__file__).parent / "scenarios"
TARGET = f"{MWI_HOST}:{MWI_PORT}"


async def test_sipp_subscribe_refresh_unsubscribe(
    mwi_engine: Engine, mailboxes: Mailboxes, sipp_uac: SippUacFactory
) -> None:
    mailboxes.of["1001"] = (3, 2)
    run = sipp_uac(
        TARGET,
        SCENARIOS / "uac_subscribe_mwi.xml",
        service="1001",
        auth=("1001", "secret1001"),
    )
    result = await run.run(timeout=20)
    assert (result.successful, result.failed) == (1, 0), run.log_tail()
    assert mwi_engine.message_waiting.held == 0
    assert mwi_engine.message_waiting.tasks == 0


async def test_sipp_bad_event(mwi_engine: Engine, sipp_uac: SippUacFactory) -> None:
    run = sipp_uac(TARGET, SCENARIOS / "uac_subscribe_bad_event.xml", service="1001")
    result = await run.run(timeout=20)
    assert (result.successful, result.failed) == (1, 0), run.log_tail()
    assert mwi_engine.message_waiting.held == 0


async def test_sipp_unauthenticated(mwi_engine: Engine, sipp_uac: SippUacFactory) -> None:
    run = sipp_uac(
        TARGET,
        SCENARIOS / "uac_subscribe_unauthenticated.xml",
        service="1001",
        auth=("1001", "wrong"),
    )
    result = await run.run(timeout=20)
    assert (result.successful, result.failed) == (1, 0), run.log_tail()
    assert mwi_engine.message_waiting.held == 0

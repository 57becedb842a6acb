"""The engine's mechanism for ringing a user's phones: it lists them
(``user_contacts``) and sends one INVITE per leg, to the phone it is given; asked for a
user with several phones as one destination, it refuses (the switch rings them)."""

from __future__ import annotations

import asyncio

import pytest
from engine_setup import ENGINE_HOST, ENGINE_PORT, USERS

from callbridge.engine.engine import Engine
from callbridge.engine.events import EndReason
from callbridge.engine.routing import SeveralContacts, UserOffline
from peers.baresip import Baresip
from peers.conftest import BaresipFactory
from peers.phones import registered_phone

pytestmark = pytest.mark.peers

WAIT = 10.0


async def phone(baresip: BaresipFactory, name: str) -> Baresip:
    return await registered_phone(
        baresip,
        "1002",
        registrar=f"{ENGINE_HOST}:{ENGINE_PORT}",
        password=dict(USERS)["1002"],
        name=name,
        timeout=WAIT,
    )


async def test_one_invite_goes_to_the_phone_it_is_given(
    engine: Engine, baresip: BaresipFactory
) -> None:
    desk, mobile = await asyncio.gather(phone(baresip, "desk"), phone(baresip, "mobile"))
    contacts = engine.user_contacts("1002")
    assert contacts is not None
    assert len(contacts) == 2
    assert {c.to_uri for c in contacts} == {f"sip:1002@{ENGINE_HOST}"}
    assert engine.user_contacts("+4930123") is None  # no user: a number
    with pytest.raises(UserOffline):
        engine.user_contacts("1001")
    with pytest.raises(SeveralContacts):
        await engine.originate("1002")

    [to_mobile] = [c for c in contacts if mobile.host in c.request_uri]
    leg = await engine.originate("1002", contact=to_mobile, ring_timeout=5.0)
    assert leg.callee.user == "1002"  # presence counts it as the user's
    await mobile.wait_event("CALL_INCOMING", timeout=WAIT)
    await asyncio.sleep(0.5)
    assert not any(e.get("type") == "CALL_INCOMING" for e in desk.events), "desk rang too"
    end = await leg.hangup()
    assert end.reason is EndReason.CANCELLED
    await mobile.wait_event("CALL_CLOSED", timeout=WAIT)


async def test_a_phone_gone_since_it_was_listed_is_offline(
    engine: Engine, baresip: BaresipFactory
) -> None:
    desk = await phone(baresip, "desk")
    contacts = engine.user_contacts("1002")
    assert contacts is not None
    await desk.stop()  # un-REGISTERs
    for _ in range(100):
        if not engine.registrar.lookup("1002"):
            break
        await asyncio.sleep(0.05)
    with pytest.raises(UserOffline):
        await engine.originate("1002", contact=contacts[0])

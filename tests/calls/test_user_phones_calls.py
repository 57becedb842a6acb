"""An outbound API call to a user with two registered phones: the switch rings each phone
as its own leg (the engine sends one INVITE per leg); the phone that answers runs the
application, the other is cancelled; the call's callbacks are those of one call.  Both
phones busy: the call completes busy with 486.  A callback's leg to that user rings both
phones too and bridges the one that answers."""

from __future__ import annotations

import asyncio

import pytest
from call_world import ENGINE_HOST, ENGINE_PORT, CallWorld
from callback_support import finished
from callback_support import statuses as cb_statuses

from callbridge.calls.callbacks_service import CallbridgeCallbacks
from callbridge.calls.request import CallbackRequest, LegSpec, OutboundCallRequest, StatusCallback
from callbridge.engine.events import Direction
from callbridge.webhooks.params import CallbackEvent
from peers.baresip import Baresip
from peers.conftest import BaresipFactory
from peers.phones import registered_phone

pytestmark = pytest.mark.peers

WAIT = 15.0


async def phone(baresip: BaresipFactory, name: str) -> Baresip:
    return await registered_phone(
        baresip,
        "1002",
        registrar=f"{ENGINE_HOST}:{ENGINE_PORT}",
        password="secret1002",
        name=name,
        timeout=WAIT,
    )


def request(world: CallWorld) -> OutboundCallRequest:
    return OutboundCallRequest(
        api_key_id=None,
        to="1002",
        from_="15550001",
        url=world.receiver.url("/app"),
        status_callback=StatusCallback(
            url=world.receiver.url("/status"), events=tuple(CallbackEvent)
        ),
    )


async def statuses(world: CallWorld, sid: str) -> list[str]:
    def of_call() -> list[str]:
        return [
            r.form["CallStatus"]
            for r in world.receiver.on("/status")
            if 200 <= r.status < 300 and r.form["CallSid"] == sid
        ]

    await world.receiver.wait_for(lambda: "completed" in of_call(), timeout=30)
    return of_call()


async def test_both_phones_ring_the_one_that_answers_runs_the_application(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    desk, mobile = await asyncio.gather(phone(baresip, "desk"), phone(baresip, "mobile"))
    world.receiver.documents["/app"] = '<Response><Pause length="1"/></Response>'
    call = await world.calls.place_call(request(world))
    await asyncio.gather(
        desk.wait_event("CALL_INCOMING", timeout=WAIT),
        mobile.wait_event("CALL_INCOMING", timeout=WAIT),
    )
    outbound = [leg for leg in world.engine.legs.values() if leg.direction is Direction.OUTBOUND]
    assert len(outbound) == 2, "one leg per phone"
    await asyncio.sleep(0.3)
    await mobile.answer()
    await desk.wait_event("CALL_CLOSED", timeout=WAIT)  # cancelled
    await mobile.wait_event("CALL_CLOSED", timeout=WAIT)  # the application hung up
    assert await statuses(world, call.sid) == ["initiated", "ringing", "answered", "completed"]
    assert len(world.receiver.on("/app")) == 1
    assert desk.recorded_wav is None
    detail = await world.calls.get_call(call.sid, api_key_id=None)
    assert detail.call.status == "completed"


async def test_both_phones_busy_completes_busy_486(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    desk, mobile = await asyncio.gather(phone(baresip, "desk"), phone(baresip, "mobile"))
    call = await world.calls.place_call(request(world))
    await asyncio.gather(
        desk.wait_event("CALL_INCOMING", timeout=WAIT),
        mobile.wait_event("CALL_INCOMING", timeout=WAIT),
    )
    await desk.hangup()  # 486
    await mobile.hangup()  # 486
    assert await statuses(world, call.sid) == ["initiated", "ringing", "completed"]
    detail = await world.calls.get_call(call.sid, api_key_id=None)
    assert (detail.call.status, detail.call.sip_code) == ("busy", 486)
    assert not world.receiver.on("/app"), "fetched for an unanswered call"


async def test_a_callbacks_b_leg_to_the_user_rings_both_phones_and_bridges_the_answerer(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    customer = await baresip("customer", auto_answer=True, tone_hz=700.0)
    desk, mobile = await asyncio.gather(phone(baresip, "desk"), phone(baresip, "mobile"))
    hooks = StatusCallback(url=world.receiver.url("/status"), events=tuple(CallbackEvent))
    placed = await callbacks.place_callback(
        CallbackRequest(
            api_key_id=None,
            leg_a=LegSpec(to=customer.uri, from_="1000125", status_callback=hooks),
            leg_b=LegSpec(to="1002", from_="1000123", status_callback=hooks),
        )
    )
    await customer.wait_event("CALL_ESTABLISHED", timeout=WAIT)
    await asyncio.gather(
        desk.wait_event("CALL_INCOMING", timeout=WAIT),
        mobile.wait_event("CALL_INCOMING", timeout=WAIT),
    )
    await desk.answer()
    await mobile.wait_event("CALL_CLOSED", timeout=WAIT)  # cancelled
    await desk.wait_event("CALL_ESTABLISHED", timeout=WAIT)
    await asyncio.sleep(1.0)
    await desk.hangup()
    await customer.wait_event("CALL_CLOSED", timeout=WAIT)
    detail = await finished(world, callbacks, placed)
    assert detail.bridged_seconds is not None
    assert detail.leg_b.call.status == "completed"
    assert [r["CallStatus"] for r in cb_statuses(world, placed.leg_b.sid)] == [
        "initiated",
        "ringing",
        "answered",
        "completed",
    ]
    assert mobile.recorded_wav is None

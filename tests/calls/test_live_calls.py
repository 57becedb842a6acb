"""Every call the API lists as live can be hung up through it (issue 15 item 8): the legs
of a bridged two-leg callback too; and every call ends once it has lasted
``[calls] max_duration``, with that cause."""

from __future__ import annotations

import asyncio

import pytest
from call_world import CallWorld
from callback_support import finished
from test_callback_calls import callback
from test_outbound_calls import completed, request, status_requests

from callbridge.calls.callbacks_service import CallbridgeCallbacks
from callbridge.calls.errors import CallNotRedirectable
from callbridge.calls.live import LiveCalls
from callbridge.store.records import CallFilters
from peers.conftest import BaresipFactory

pytestmark = pytest.mark.peers


async def test_a_bridged_callback_is_hung_up_through_the_call_api(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    a, b = await asyncio.gather(
        baresip("customer", auto_answer=True), baresip("agent", auto_answer=True)
    )
    placed = await callbacks.place_callback(callback(world, a, b))
    await asyncio.gather(
        a.wait_event("CALL_ESTABLISHED", timeout=15), b.wait_event("CALL_ESTABLISHED", timeout=30)
    )
    for _ in range(100):  # the bridge follows B's answer
        detail = await callbacks.get_callback(placed.id, api_key_id=None)
        if "bridged" in [event.name for event in detail.leg_a.events]:
            break
        await asyncio.sleep(0.05)
    page = await world.calls.list_calls(CallFilters(status="in-progress"), cursor=None, limit=10)
    assert {call.sid for call in page.calls} == {placed.leg_a.sid, placed.leg_b.sid}
    with pytest.raises(CallNotRedirectable):
        await world.calls.redirect(
            placed.leg_b.sid, world.receiver.url("/x"), "POST", api_key_id=None
        )
    # Was 409 (CallNotLive): the call service knew only the calls it had placed itself.
    await world.calls.hang_up(placed.leg_b.sid, api_key_id=None)
    await asyncio.gather(a.wait_event("CALL_CLOSED", timeout=15), b.wait_event("CALL_CLOSED"))
    detail = await finished(world, callbacks, placed)
    assert detail.leg_a.call.status == detail.leg_b.call.status == "completed"
    assert (detail.leg_a.call.hangup_by, detail.leg_b.call.hangup_by) == ("local", "local")
    assert len(world.calls.live) == 0


async def test_a_dial_leg_is_hung_up_through_the_call_api_alone(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    """A ``<Dial>`` leg is a session of its own: hung up through the API it ends alone, and
    the parent's application goes on after its ``<Dial>``; it runs no application."""
    customer, agent = await asyncio.gather(
        baresip("customer", auto_answer=True), baresip("agent", auto_answer=True)
    )
    world.receiver.documents["/app"] = (
        f'<Response><Dial action="/dialled"><Sip>{agent.uri}</Sip></Dial></Response>'
    )
    world.receiver.documents["/dialled"] = "<Response><Say>The agent has left.</Say></Response>"
    call = await world.calls.place_call(
        request(world, customer.uri, url=world.receiver.url("/app"))
    )
    await agent.wait_event("CALL_ESTABLISHED", timeout=20)

    def child_answered() -> list[str]:  # (ParentCallSid is an A leg's own sid too)
        return [
            r["CallSid"]
            for r in status_requests(world)
            if r["CallSid"] != call.sid and r["CallStatus"] == "answered"
        ]

    await world.receiver.wait_for(lambda: bool(child_answered()), timeout=15)
    (child,) = child_answered()
    with pytest.raises(CallNotRedirectable):
        await world.calls.redirect(child, world.receiver.url("/x"), "POST", api_key_id=None)
    await world.calls.hang_up(child, api_key_id=None)
    await agent.wait_event("CALL_CLOSED", timeout=10)
    await customer.wait_event("CALL_CLOSED", timeout=30)  # after the Say
    await completed(world, call.sid)
    await completed(world, child)
    (dialled,) = world.receiver.on("/dialled")
    assert dialled.form["CallSid"] == call.sid
    detail = await world.calls.get_call(child, api_key_id=None)
    assert (detail.call.status, detail.call.hangup_by) == ("completed", "local")
    assert len(world.calls.live) == 0


async def test_a_call_that_lasts_max_duration_is_ended_with_that_cause(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    world.calls.live = LiveCalls(max_duration=2.0)
    phone = await baresip("customer", auto_answer=True)
    world.receiver.documents["/app"] = '<Response><Pause length="60"/></Response>'
    call = await world.calls.place_call(request(world, phone.uri, url=world.receiver.url("/app")))
    await phone.wait_event("CALL_CLOSED", timeout=15)
    last = await completed(world, call.sid)
    assert (last["CallOutcome"], last["SipResponseCode"]) == ("completed", "200")
    detail = await world.calls.get_call(call.sid, api_key_id=None)
    assert detail.call.hangup_by == "local"
    assert detail.call.hangup_cause == "max_duration reached: the call lasted 2 s"
    [ended] = [event for event in detail.events if event.name == "completed"]
    assert ended.data["cause"] == detail.call.hangup_cause
    await world.calls.live.close()

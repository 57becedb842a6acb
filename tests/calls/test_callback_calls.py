"""Two-leg callbacks end to end: the callback service drives the engine, baresip phones are
the two parties, status callbacks go to a real HTTP server in the test, and what each
phone heard is checked in its recording."""

from __future__ import annotations

import asyncio

import pytest
from call_world import BOTH_DATABASES, CallWorld
from callback_support import classify, finished, statuses, tone_start

from callbridge.calls.callbacks_service import CallbridgeCallbacks
from callbridge.calls.request import (
    Announcement,
    CallbackMode,
    CallbackRequest,
    LegName,
    LegSpec,
    StatusCallback,
)
from callbridge.webhooks.params import CallbackEvent
from peers.baresip import Baresip
from peers.conftest import BaresipFactory

pytestmark = pytest.mark.peers

A_TONE = 700.0
B_TONE = 1000.0
HEARD_BY_A = {"B": (B_TONE,), "ringback": (440.0, 480.0)}
HEARD_BY_B = {"A": (A_TONE,), "ringback": (440.0, 480.0)}
ALL_EVENTS = tuple(CallbackEvent)
A_CALLER_ID = "1000125"
B_CALLER_ID = "1000123"


def leg(world: CallWorld, phone: Baresip, caller_id: str, **changes: object) -> LegSpec:
    values: dict[str, object] = {
        "to": phone.uri,
        "from_": caller_id,
        "status_callback": StatusCallback(url=world.receiver.url("/status"), events=ALL_EVENTS),
    }
    values.update(changes)
    return LegSpec(**values)  # type: ignore[arg-type]


def callback(world: CallWorld, a: Baresip, b: Baresip, **changes: object) -> CallbackRequest:
    values: dict[str, object] = {
        "api_key_id": None,
        "leg_a": leg(world, a, A_CALLER_ID),
        "leg_b": leg(world, b, B_CALLER_ID),
    }
    values.update(changes)
    return CallbackRequest(**values)  # type: ignore[arg-type]


@BOTH_DATABASES
async def test_sequential_callback_announces_to_a_then_bridges_b(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    a, b = await asyncio.gather(
        baresip("customer", tone_hz=A_TONE), baresip("agent", tone_hz=B_TONE)
    )
    welcome = Announcement(text="Hello. Please hold while we connect you to an agent.")
    placed = await callbacks.place_callback(
        callback(world, a, b, leg_a=leg(world, a, A_CALLER_ID, announce=welcome))
    )
    incoming = await a.wait_event("CALL_INCOMING", timeout=15)
    assert A_CALLER_ID in incoming.get("peeruri", ""), incoming
    assert all(e["type"] != "CALL_INCOMING" for e in b.events), "B rang before A answered"
    await a.answer()
    called = await b.wait_event("CALL_INCOMING", timeout=30)
    assert B_CALLER_ID in called.get("peeruri", ""), called
    await asyncio.sleep(0.5)
    await b.answer()
    await b.wait_event("CALL_ESTABLISHED", timeout=10)
    await asyncio.sleep(1.0)
    await a.send_dtmf("5")
    await asyncio.sleep(1.5)
    await a.hangup()
    await asyncio.gather(a.wait_event("CALL_CLOSED", timeout=15), b.wait_event("CALL_CLOSED"))
    detail = await finished(world, callbacks, placed)

    heard_by_a = classify(a.recorded_wav, HEARD_BY_A)
    bridged = tone_start(heard_by_a, "B")
    assert bridged < len(heard_by_a), "A did not hear B"
    assert heard_by_a[:bridged].count("speech") > 50, "A did not hear the announcement first"
    assert heard_by_a[bridged:].count("speech") < 5
    assert heard_by_a[:bridged].count("ringback") > 10, "A heard no ringback while B rang"
    heard_by_b = classify(b.recorded_wav, HEARD_BY_B)
    assert heard_by_b.count("A") > 25, "B did not hear A"
    assert heard_by_b.count("speech") < 5, "B heard A's announcement"
    assert tone_start(heard_by_b, "A") < len(heard_by_b)
    assert b.received_dtmf == "5"

    assert (detail.status, detail.mode, detail.ended_by, detail.reason) == (
        "completed",
        "sequential",
        "A",
        "hung_up",
    )
    assert detail.bridged_seconds is not None
    assert detail.bridged_seconds >= 2
    for sid in (placed.leg_a.sid, placed.leg_b.sid):
        events = statuses(world, sid)
        assert [r["CallStatus"] for r in events] == [e.value for e in ALL_EVENTS]
        assert {r["ParentCallSid"] for r in events} == {placed.id}
    assert detail.leg_a.call.status == detail.leg_b.call.status == "completed"
    assert detail.leg_b.call.parent_sid == placed.id
    assert [e.name for e in detail.leg_a.events][-2:] == ["completed", "callback-ended"]
    assert "bridged" in [e.name for e in detail.leg_a.events]


async def test_simultaneous_callback_rings_both_and_plays_ringback_to_the_first(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    a, b = await asyncio.gather(
        baresip("customer", tone_hz=A_TONE), baresip("agent", tone_hz=B_TONE)
    )
    briefing = Announcement(text="Callback for customer one two three.")
    placed = await callbacks.place_callback(
        callback(
            world,
            a,
            b,
            mode=CallbackMode.SIMULTANEOUS,
            leg_b=leg(world, b, B_CALLER_ID, announce=briefing),
        )
    )
    await asyncio.gather(
        a.wait_event("CALL_INCOMING", timeout=15), b.wait_event("CALL_INCOMING", timeout=15)
    )
    await a.answer()
    await asyncio.sleep(2.5)  # A waits, hearing ringback
    await b.answer()
    await b.wait_event("CALL_ESTABLISHED", timeout=10)
    await asyncio.sleep(4.0)  # B's announcement, then the bridge
    await b.hangup()
    await asyncio.gather(a.wait_event("CALL_CLOSED", timeout=15), b.wait_event("CALL_CLOSED"))
    detail = await finished(world, callbacks, placed)

    heard_by_a = classify(a.recorded_wav, HEARD_BY_A)
    bridged = tone_start(heard_by_a, "B")
    assert bridged < len(heard_by_a), "A did not hear B"
    assert heard_by_a[:bridged].count("ringback") > 50, "A heard no ringback while B was called"
    assert heard_by_a.count("speech") < 5, "A heard B's announcement"
    heard_by_b = classify(b.recorded_wav, HEARD_BY_B)
    connected = tone_start(heard_by_b, "A")
    assert connected < len(heard_by_b), "B did not hear A"
    assert heard_by_b[:connected].count("speech") > 50, "B did not hear its announcement"
    assert "ringback" not in heard_by_b, "B heard ringback"
    assert (detail.status, detail.mode, detail.ended_by) == ("completed", "simultaneous", "B")


async def test_busy_b_plays_the_failure_announcement_to_a_and_hangs_up(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    a, b = await asyncio.gather(
        baresip("customer", auto_answer=True, tone_hz=A_TONE), baresip("agent", tone_hz=B_TONE)
    )
    placed = await callbacks.place_callback(callback(world, a, b))
    await a.wait_event("CALL_ESTABLISHED", timeout=15)
    await b.wait_event("CALL_INCOMING", timeout=15)
    await b.hangup()  # rejects with 486 Busy Here
    await a.wait_event("CALL_CLOSED", timeout=30)
    detail = await finished(world, callbacks, placed)

    heard_by_a = classify(a.recorded_wav, HEARD_BY_A)
    assert heard_by_a.count("speech") > 50, "A did not hear the failure announcement"
    assert (detail.status, detail.ended_by, detail.reason) == ("failed", "B", "busy")
    assert detail.leg_b.call.status == "busy"
    assert detail.leg_b.call.sip_code == 486
    assert detail.leg_a.call.status == "completed"
    assert detail.bridged_seconds is None


async def test_unanswered_b_is_cancelled_at_its_timeout(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    a, b = await asyncio.gather(
        baresip("customer", auto_answer=True, tone_hz=A_TONE), baresip("agent", tone_hz=B_TONE)
    )
    request = callback(
        world,
        a,
        b,
        leg_b=leg(world, b, B_CALLER_ID, ring_timeout=5.0),
        failure_announce=Announcement(text="Nobody answered. Goodbye."),
    )
    placed = await callbacks.place_callback(request)
    await a.wait_event("CALL_ESTABLISHED", timeout=15)
    await b.wait_event("CALL_INCOMING", timeout=15)
    rang_at = asyncio.get_running_loop().time()
    await b.wait_event("CALL_CLOSED", timeout=15)  # the engine's CANCEL
    assert asyncio.get_running_loop().time() - rang_at > 3.5
    await a.wait_event("CALL_CLOSED", timeout=30)
    detail = await finished(world, callbacks, placed)

    assert classify(a.recorded_wav, HEARD_BY_A).count("speech") > 50
    assert (detail.status, detail.ended_by, detail.reason) == ("failed", "B", "no_answer")
    assert detail.leg_b.call.status == "no-answer"


async def test_a_hanging_up_while_b_rings_cancels_b(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    a, b = await asyncio.gather(
        baresip("customer", auto_answer=True, tone_hz=A_TONE), baresip("agent", tone_hz=B_TONE)
    )
    placed = await callbacks.place_callback(callback(world, a, b))
    await a.wait_event("CALL_ESTABLISHED", timeout=15)
    await b.wait_event("CALL_INCOMING", timeout=15)
    await asyncio.sleep(0.5)
    await a.hangup()
    await b.wait_event("CALL_CLOSED", timeout=10)
    detail = await finished(world, callbacks, placed)

    assert (detail.status, detail.ended_by, detail.reason) == ("failed", "A", "hung_up")
    assert detail.leg_b.call.status == "canceled"
    assert detail.leg_a.call.status == "completed"
    b_events = [r["CallStatus"] for r in statuses(world, placed.leg_b.sid)]
    assert b_events == ["initiated", "ringing", "completed"]


async def test_an_unreachable_b_is_reported_and_a_hears_why(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    a = await baresip("customer", auto_answer=True, tone_hz=A_TONE)
    request = CallbackRequest(
        api_key_id=None,
        leg_a=leg(world, a, A_CALLER_ID),
        leg_b=LegSpec(to="1001", from_=B_CALLER_ID),  # a user that is not registered
    )
    placed = await callbacks.place_callback(request)
    await a.wait_event("CALL_ESTABLISHED", timeout=15)
    await a.wait_event("CALL_CLOSED", timeout=30)
    await world.receiver.wait_for(
        lambda: any(r["CallStatus"] == "completed" for r in statuses(world, placed.leg_a.sid)),
        timeout=30,
    )
    for _ in range(100):
        detail = await callbacks.get_callback(placed.id, api_key_id=None)
        if detail.ended_at is not None and detail.reason is not None:
            break
        await asyncio.sleep(0.05)
    assert classify(a.recorded_wav, HEARD_BY_A).count("speech") > 50
    assert (detail.status, detail.ended_by, detail.reason) == ("failed", "B", "offline")
    assert detail.leg_b.call.status == "failed"


async def test_first_b_dials_b_before_a_and_a_never_rings_if_b_declines(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    a, b = await asyncio.gather(
        baresip("customer", tone_hz=A_TONE), baresip("agent", tone_hz=B_TONE)
    )
    placed = await callbacks.place_callback(callback(world, a, b, first=LegName.B))
    await b.wait_event("CALL_INCOMING", timeout=15)
    await b.hangup()
    detail = await finished(world, callbacks, placed)
    assert all(e["type"] != "CALL_INCOMING" for e in a.events)
    assert (detail.first, detail.status, detail.ended_by) == ("B", "failed", "B")
    assert detail.leg_a.call.status == "canceled"
    assert detail.leg_a.call.hangup_cause is not None
    assert detail.leg_a.call.hangup_cause.startswith("not dialled")
    assert [r["CallStatus"] for r in statuses(world, placed.leg_a.sid)] == ["completed"]

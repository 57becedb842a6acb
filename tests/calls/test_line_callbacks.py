"""callback.start's call flow (seed-003) end to end: a line of registered baresip phones is
rung by its rules, the manager who answers hears the text, then the client is called and
the two are bridged."""

from __future__ import annotations

import asyncio

import pytest
from call_world import ENGINE_HOST, ENGINE_PORT, CallWorld
from callback_support import classify, finished, statuses, tone_start

from callbridge.calls.callbacks_service import CallbridgeCallbacks
from callbridge.calls.lines import Line
from callbridge.calls.request import Announcement, CallbackRequest, LegSpec, StatusCallback
from callbridge.webhooks.params import CallbackEvent
from peers.baresip import Baresip
from peers.conftest import BaresipFactory, SippUasFactory
from peers.phones import registered_phone
from peers.sipp import UasMode

pytestmark = pytest.mark.peers

REGISTRAR = f"{ENGINE_HOST}:{ENGINE_PORT}"
PASSWORDS = {"1001": "secret1001", "1002": "secret1002"}
MANAGER_TONE = 700.0
CLIENT_TONE = 1000.0
HEARD_BY_MANAGER = {"client": (CLIENT_TONE,), "ringback": (440.0, 480.0)}
HEARD_BY_CLIENT = {"manager": (MANAGER_TONE,), "ringback": (440.0, 480.0)}
CLIENT_NUMBER = "79110000001"
TEXT = "You have a callback request, connecting with the client now."


async def registered(baresip: BaresipFactory, user: str, tone_hz: float) -> Baresip:
    """The desk phone of line user ``user``, registered to the engine, sending ``tone_hz``."""
    return await registered_phone(
        baresip,
        user,
        registrar=REGISTRAR,
        password=PASSWORDS[user],
        name=f"desk-{user}",
        tone_hz=tone_hz,
    )


def callback_start(world: CallWorld, line: Line, client: Baresip) -> CallbackRequest:
    """What ``voximplant.callback.start`` asks for: ring ``line``, speak, call the client."""
    status = StatusCallback(url=world.receiver.url("/status"), events=tuple(CallbackEvent))
    return CallbackRequest(
        api_key_id=None,
        leg_a=LegSpec(
            to=line.id,
            from_=CLIENT_NUMBER,
            line=line,
            announce=Announcement(text=TEXT),
            status_callback=status,
        ),
        leg_b=LegSpec(to=client.uri, from_=line.caller_id, status_callback=status),
    )


async def test_a_line_of_two_phones_rings_both_the_answerer_hears_the_text_then_the_client(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    desk1, desk2, client = await asyncio.gather(
        registered(baresip, "1001", MANAGER_TONE),
        registered(baresip, "1002", 440.0),
        baresip("client", auto_answer=True, tone_hz=CLIENT_TONE),
    )
    line = Line(id="reg1332", name="Sales", users=("1001", "1002"), number="74950000000")
    placed = await callbacks.place_callback(callback_start(world, line, client))

    incoming = await desk1.wait_event("CALL_INCOMING", timeout=15)
    await desk2.wait_event("CALL_INCOMING", timeout=15)
    assert CLIENT_NUMBER in incoming.get("peeruri", ""), incoming
    assert all(e["type"] != "CALL_INCOMING" for e in client.events), "client rang first"
    await desk1.answer()
    await desk2.wait_event("CALL_CLOSED", timeout=10)  # the other desk is cancelled
    established = await client.wait_event("CALL_ESTABLISHED", timeout=30)
    assert line.caller_id in established.get("peeruri", ""), established
    await asyncio.sleep(2.0)
    await client.hangup()
    await asyncio.gather(desk1.wait_event("CALL_CLOSED", timeout=15))
    detail = await finished(world, callbacks, placed)

    heard = classify(desk1.recorded_wav, HEARD_BY_MANAGER)
    bridged = tone_start(heard, "client")
    assert bridged < len(heard), "the manager did not hear the client"
    assert heard[:bridged].count("speech") > 50, "the manager did not hear the text first"
    heard_by_client = classify(client.recorded_wav, HEARD_BY_CLIENT)
    assert heard_by_client.count("manager") > 25, "the client did not hear the manager"
    assert heard_by_client.count("speech") < 5, "the client heard the text"
    assert desk2.recorded_wav is None or classify(desk2.recorded_wav, {}).count("speech") < 5

    assert (detail.status, detail.ended_by) == ("completed", "B")
    manager_statuses = [r["CallStatus"] for r in statuses(world, placed.leg_a.sid)]
    assert manager_statuses == ["initiated", "ringing", "answered", "completed"]
    client_call = statuses(world, placed.leg_b.sid)
    assert [r["CallStatus"] for r in client_call][-1] == "completed"


async def test_a_line_nobody_answers_forwards_to_the_external_number_after_its_time(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    desk, mobile, client = await asyncio.gather(
        registered(baresip, "1001", 440.0),
        baresip("mobile", auto_answer=True, tone_hz=MANAGER_TONE),
        baresip("client", auto_answer=True, tone_hz=CLIENT_TONE),
    )
    line = Line(
        id="reg1332", name="Sales", users=("1001",), ring_timeout=2.0, forward_to=mobile.uri
    )
    placed = await callbacks.place_callback(callback_start(world, line, client))

    await desk.wait_event("CALL_INCOMING", timeout=15)
    await desk.wait_event("CALL_CLOSED", timeout=10)  # rang out at the line's ring time
    assert all(e["type"] != "CALL_ESTABLISHED" for e in mobile.events[:1])
    await mobile.wait_event("CALL_ESTABLISHED", timeout=15)
    await client.wait_event("CALL_ESTABLISHED", timeout=30)
    await asyncio.sleep(2.0)
    await mobile.hangup()
    await client.wait_event("CALL_CLOSED", timeout=15)
    detail = await finished(world, callbacks, placed)

    heard = classify(mobile.recorded_wav, HEARD_BY_MANAGER)
    bridged = tone_start(heard, "client")
    assert bridged < len(heard), "the forwarded manager did not hear the client"
    assert heard[:bridged].count("speech") > 50, "the forwarded manager did not hear the text"
    assert (detail.status, detail.ended_by) == ("completed", "A")
    assert detail.leg_a.call.status == "completed"


async def test_a_line_nobody_answers_ends_without_calling_the_client(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    desk, client = await asyncio.gather(
        registered(baresip, "1001", 440.0), baresip("client", auto_answer=True)
    )
    line = Line(id="reg1332", name="Sales", users=("1001", "1002"), ring_timeout=2.0)
    placed = await callbacks.place_callback(callback_start(world, line, client))

    await desk.wait_event("CALL_INCOMING", timeout=15)  # 1002 is offline: 1001 rings alone
    await desk.wait_event("CALL_CLOSED", timeout=10)
    detail = await finished(world, callbacks, placed)
    assert (detail.status, detail.ended_by, detail.reason) == ("failed", "A", "no_answer")
    assert all(e["type"] != "CALL_INCOMING" for e in client.events)
    assert detail.leg_b.call.status == "canceled"


async def test_a_line_whose_phones_are_all_offline_ends_as_offline(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    client = await baresip("client", auto_answer=True)
    line = Line(id="reg1332", name="Sales", users=("1001", "1002"))
    placed = await callbacks.place_callback(callback_start(world, line, client))
    detail = await finished(world, callbacks, placed)
    assert (detail.status, detail.ended_by, detail.reason) == ("failed", "A", "offline")
    assert detail.leg_a.call.status == "failed"
    assert all(e["type"] != "CALL_INCOMING" for e in client.events)


async def test_a_line_whose_offline_user_outranks_a_number_that_failed_ends_as_offline(
    world: CallWorld,
    callbacks: CallbridgeCallbacks,
    baresip: BaresipFactory,
    sipp_uas: SippUasFactory,
) -> None:
    """1002 could not be dialled (offline) and the number failed (a challenge the line
    cannot answer): the caller would be told offline, and the line's leg saves that."""
    client, number = await asyncio.gather(
        baresip("client", auto_answer=True), sipp_uas(UasMode.AUTH_407)
    )
    line = Line(
        id="reg1332", name="Sales", users=("1002",), numbers=(f"sip:agent@{number.address}",)
    )
    placed = await callbacks.place_callback(callback_start(world, line, client))
    detail = await finished(world, callbacks, placed)
    assert (detail.status, detail.ended_by, detail.reason) == ("failed", "A", "offline")
    assert detail.leg_a.call.status == "failed"
    assert all(e["type"] != "CALL_INCOMING" for e in client.events)

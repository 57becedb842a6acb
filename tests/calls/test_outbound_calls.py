"""Outbound calls end to end: the call service drives the engine, baresip phones answer,
the voice application and the status callbacks live on a real HTTP server in the test."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile
from call_world import BOTH_DATABASES, CallWorld

from audio_analysis import dominant_frequency, read_wav_mono, rms, tone_frames
from callbridge.calls.request import OutboundCallRequest, StatusCallback
from callbridge.store.records import DeliveryRecord
from callbridge.webhooks.params import CallbackEvent
from peers.baresip import Baresip
from peers.conftest import BaresipFactory

pytestmark = pytest.mark.peers

ALL_EVENTS = tuple(CallbackEvent)


def status_requests(world: CallWorld, path: str = "/status") -> list[dict[str, str]]:
    return [r.form for r in world.receiver.on(path) if 200 <= r.status < 300]


def request(world: CallWorld, to: str, **overrides: object) -> OutboundCallRequest:
    fields: dict[str, object] = {
        "api_key_id": None,
        "to": to,
        "from_": "15550001",
        "status_callback": StatusCallback(url=world.receiver.url("/status"), events=ALL_EVENTS),
    }
    fields.update(overrides)
    return OutboundCallRequest(**fields)  # type: ignore[arg-type]


async def answer_when_rung(phone: Baresip, *, after: float = 0.3) -> None:
    """Let the phone ring (180) a moment, then pick up."""
    await phone.wait_event("CALL_INCOMING", timeout=15)
    await asyncio.sleep(after)
    await phone.answer()


def speech_frames(recording: Path | None) -> int:
    assert recording is not None, "no recording"
    _, data = read_wav_mono(recording)
    return sum(1 for i in range(0, len(data) - 160, 160) if rms(data[i : i + 160]) > 300)


async def event_names(world: CallWorld, sid: str, *, until: str) -> list[str]:
    """The call's event names once ``until`` is among them (or after 5 s): the error is
    noted once the runner returns, which may be just after the hangup's completed event."""
    names: list[str] = []
    for _ in range(100):
        detail = await world.calls.get_call(sid, api_key_id=None)
        names = [event.name for event in detail.events]
        if until in names:
            break
        await asyncio.sleep(0.05)
    return names


async def settled_deliveries(world: CallWorld, sid: str) -> tuple[DeliveryRecord, ...]:
    """The call's deliveries once none is pending (or after 5 s): the dispatcher writes an
    outcome after the request it records, at most ``settle_delay`` later."""
    deliveries: tuple[DeliveryRecord, ...] = ()
    for _ in range(100):
        deliveries = (await world.calls.get_call(sid, api_key_id=None)).deliveries
        if all(d.status != "pending" for d in deliveries):
            break
        await asyncio.sleep(0.05)
    return deliveries


async def completed(world: CallWorld, sid: str, *, path: str = "/status") -> dict[str, str]:
    await world.receiver.wait_for(
        lambda: any(
            r["CallSid"] == sid and r["CallStatus"] == "completed"
            for r in status_requests(world, path)
        ),
        timeout=30,
    )
    return next(
        r
        for r in status_requests(world, path)
        if r["CallSid"] == sid and r["CallStatus"] == "completed"
    )


@BOTH_DATABASES
async def test_pin_call_sends_digits_then_speaks_with_ordered_callbacks(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    phone = await baresip("customer")
    world.receiver.documents["/app"] = "<Response><Say>Your PIN is 4 7 1 1</Say></Response>"
    callback = StatusCallback(
        url=world.receiver.url("/status"),
        events=ALL_EVENTS,
        secret_key="s3cret-key",
        optional="token=123456",
    )
    call = await world.calls.place_call(
        request(
            world,
            phone.uri,
            url=world.receiver.url("/app"),
            send_digits="12w34",
            status_callback=callback,
        )
    )
    await answer_when_rung(phone)
    await phone.wait_event("CALL_CLOSED", timeout=30)
    last = await completed(world, call.sid)

    statuses = [r["CallStatus"] for r in status_requests(world) if r["CallSid"] == call.sid]
    assert statuses == ["initiated", "ringing", "answered", "completed"]
    assert phone.received_dtmf == "1234"
    assert speech_frames(phone.recorded_wav) > 25, "the phone heard no speech"
    assert last["Called"] == phone.uri
    assert last["ParentCallSid"] == call.sid
    assert last["Direction"] == "Outbound"
    assert last["CallbackSource"] == "call-progress-event"
    assert last["apikey"] == "s3cret-key"
    assert int(last["CallDuration"]) >= 1
    # seed-001's own spellings too (its table: callSid, CallDurartion)
    assert (last["callSid"], last["CallDurartion"]) == (call.sid, last["CallDuration"])
    hooks = world.receiver.on("/status")
    assert all(h.query_params.get("token") == "123456" for h in hooks)
    fetched = world.receiver.on("/app")[0].form
    assert fetched["CallSid"] == call.sid
    assert fetched["To"] == phone.uri
    detail = await world.calls.get_call(call.sid, api_key_id=None)
    assert detail.call.status == "completed"
    assert [e.name for e in detail.events] == ["initiated", "ringing", "answered", "completed"]


async def test_play_of_an_mp3_is_heard_by_the_phone(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    phone = await baresip("customer")
    rate = 44100
    t = np.arange(2 * rate) / rate
    mp3 = io.BytesIO()
    soundfile.write(mp3, 0.5 * np.sin(2 * np.pi * 440 * t), rate, format="MP3")
    world.receiver.files["/hold.mp3"] = mp3.getvalue()
    world.receiver.documents["/app"] = (
        f"<Response><Play>{world.receiver.url('/hold.mp3')}</Play><Hangup/></Response>"
    )
    call = await world.calls.place_call(request(world, phone.uri, url=world.receiver.url("/app")))
    await answer_when_rung(phone)
    await phone.wait_event("CALL_CLOSED", timeout=30)
    await completed(world, call.sid)
    assert phone.recorded_wav is not None
    _, heard = read_wav_mono(phone.recorded_wav)
    loud = [
        heard[i : i + 160] for i in range(0, len(heard) - 160, 160) if rms(heard[i : i + 160]) > 300
    ]
    assert len(loud) > 75, "the phone heard less than 1.5 s of the 2 s prompt"
    at_440 = [f for f in loud if dominant_frequency(f) == pytest.approx(440, abs=25)]
    assert len(at_440) > 0.9 * len(loud)


async def test_click_to_call_bridges_from_and_to(world: CallWorld, baresip: BaresipFactory) -> None:
    customer, agent = await asyncio.gather(
        baresip("customer", auto_answer=True, tone_hz=440.0),
        baresip("agent", auto_answer=True, tone_hz=1000.0),
    )
    call = await world.calls.place_call(request(world, customer.uri, from_=agent.uri))
    await customer.wait_event("CALL_ESTABLISHED", timeout=15)
    await agent.wait_event("CALL_ESTABLISHED", timeout=15)
    await asyncio.sleep(1.5)
    await agent.hangup()
    await asyncio.gather(
        customer.wait_event("CALL_CLOSED", timeout=15), agent.wait_event("CALL_CLOSED")
    )
    await completed(world, call.sid)
    assert tone_frames(customer.recorded_wav, 1000.0) > 25, "the customer did not hear the agent"
    assert tone_frames(agent.recorded_wav, 440.0) > 25, "the agent did not hear the customer"
    children = [r for r in status_requests(world) if r["CallSid"] != call.sid]
    assert children, "the B leg sent no callbacks"
    assert {r["ParentCallSid"] for r in children} == {call.sid}
    assert [r["CallStatus"] for r in children][-1] == "completed"


async def test_gather_posts_the_digits_typed_by_the_peer(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    phone = await baresip("customer", auto_answer=True)
    world.receiver.documents["/app"] = (
        '<Response><Gather numDigits="2" timeout="10" action="/gathered">'
        "<Say>Press two digits</Say></Gather></Response>"
    )
    world.receiver.documents["/gathered"] = "<Response><Hangup/></Response>"
    call = await world.calls.place_call(request(world, phone.uri, url=world.receiver.url("/app")))
    await phone.wait_event("CALL_ESTABLISHED", timeout=15)
    await asyncio.sleep(0.5)
    await phone.send_dtmf("42")
    await phone.wait_event("CALL_CLOSED", timeout=20)
    await completed(world, call.sid)
    gathered = world.receiver.on("/gathered")
    assert len(gathered) == 1
    assert gathered[0].form["Digits"] == "42"
    assert gathered[0].form["CallSid"] == call.sid


@BOTH_DATABASES
async def test_dial_group_rings_three_and_cancels_the_losers(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    customer = await baresip("customer", auto_answer=True)
    agents = await asyncio.gather(*(baresip(f"agent{n}") for n in range(3)))
    targets = "".join(f"<Sip>{a.uri}</Sip>" for a in agents)
    world.receiver.documents["/app"] = (
        f'<Response><Dial timeout="10" action="/dialled">{targets}</Dial></Response>'
    )
    world.receiver.documents["/dialled"] = "<Response><Hangup/></Response>"
    call = await world.calls.place_call(
        request(world, customer.uri, url=world.receiver.url("/app"))
    )
    for agent in agents:
        await agent.wait_event("CALL_INCOMING", timeout=15)
    await agents[1].answer()
    await agents[1].wait_event("CALL_ESTABLISHED")
    for loser in (agents[0], agents[2]):
        await loser.wait_event("CALL_CLOSED", timeout=10)
    await asyncio.sleep(0.5)
    await agents[1].hangup()
    await customer.wait_event("CALL_CLOSED", timeout=15)
    await completed(world, call.sid)
    dialled = world.receiver.on("/dialled")
    assert dialled
    assert dialled[0].form["DialCallStatus"] == "completed"


async def test_sequential_groups_ring_the_next_after_the_ring_time(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    customer = await baresip("customer", auto_answer=True)
    first, second = await asyncio.gather(baresip("first"), baresip("second", auto_answer=True))
    world.receiver.documents["/app"] = (
        "<Response><Dial>"
        f'<Group timeout="1.5"><Sip>{first.uri}</Sip></Group>'
        f'<Group timeout="10"><Sip>{second.uri}</Sip></Group>'
        "</Dial></Response>"
    )
    call = await world.calls.place_call(
        request(world, customer.uri, url=world.receiver.url("/app"))
    )
    await first.wait_event("CALL_INCOMING", timeout=15)
    await first.wait_event("CALL_CLOSED", timeout=10)  # its ring time ran out: CANCEL
    await second.wait_event("CALL_ESTABLISHED", timeout=10)
    await second.hangup()
    await customer.wait_event("CALL_CLOSED", timeout=15)
    await completed(world, call.sid)


@BOTH_DATABASES
async def test_callbacks_survive_a_receiver_outage_in_order(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    phone = await baresip("customer")
    world.receiver.documents["/app"] = "<Response><Say>Hello</Say></Response>"
    world.receiver.status = 503  # the application is down while the call runs
    call = await world.calls.place_call(request(world, phone.uri, url=world.receiver.url("/app")))
    await world.receiver.wait_for(lambda: len(world.receiver.requests) >= 2)
    world.receiver.status = 200
    await answer_when_rung(phone)
    await phone.wait_event("CALL_CLOSED", timeout=30)
    await completed(world, call.sid)
    statuses = [r["CallStatus"] for r in status_requests(world) if r["CallSid"] == call.sid]
    assert statuses == ["initiated", "ringing", "answered", "completed"]
    deliveries = await settled_deliveries(world, call.sid)
    assert all(d.status == "delivered" for d in deliveries)
    assert any(d.attempts > 1 for d in deliveries)


@pytest.mark.parametrize(
    "document",
    [
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<Response><Say>&x;</Say></Response>",
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><Response><Say>&b;</Say></Response>',
        "<Response><Dance/></Response>",
        "<Response><Say>" + "x" * 10_000_000 + "</Say></Response>",
    ],
    ids=["external-entity", "entity-expansion", "unknown-verb", "ten-megabytes"],
)
async def test_a_hostile_document_ends_the_call_with_an_announced_error(
    world: CallWorld, baresip: BaresipFactory, document: str
) -> None:
    phone = await baresip("customer", auto_answer=True)
    world.receiver.documents["/app"] = document
    call = await world.calls.place_call(request(world, phone.uri, url=world.receiver.url("/app")))
    await phone.wait_event("CALL_CLOSED", timeout=30)
    last = await completed(world, call.sid)
    names = await event_names(world, call.sid, until="error")
    assert "error" in names, names
    assert speech_frames(phone.recorded_wav) > 25, "the error was not announced"
    # Not a normal hang-up (issue 15 item 9): the completed event and callback say failed.
    assert (last["CallOutcome"], last["SipResponseCode"]) == ("failed", "500")
    detail = await world.calls.get_call(call.sid, api_key_id=None)
    [ended] = [event for event in detail.events if event.name == "completed"]
    assert (ended.data["reason"], ended.data["by"], ended.data["outcome"]) == (
        "failed",
        "local",
        "failed",
    )
    assert ended.data["cause"].startswith("application error: ")
    assert detail.call.hangup_cause == ended.data["cause"]


async def test_a_document_redirecting_to_itself_is_ended_by_the_fetch_limit(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    """Issue 15 item 11: it fetched 5 documents a second until 10 000 verbs (17 min)."""
    phone = await baresip("customer", auto_answer=True)
    world.receiver.documents["/spin"] = (
        '<Response><Pause length="0.2"/><Redirect>/spin</Redirect></Response>'
    )
    call = await world.calls.place_call(request(world, phone.uri, url=world.receiver.url("/spin")))
    await phone.wait_event("CALL_CLOSED", timeout=30)
    last = await completed(world, call.sid)
    assert (last["CallOutcome"], last["SipResponseCode"]) == ("failed", "500")
    assert len(world.receiver.on("/spin")) == 30
    detail = await world.calls.get_call(call.sid, api_key_id=None)
    cause = "application error: more than 30 documents fetched within a minute"
    assert detail.call.hangup_cause == cause


async def test_an_unreachable_application_url_ends_the_call_with_an_error(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    phone = await baresip("customer", auto_answer=True)
    call = await world.calls.place_call(
        request(world, phone.uri, url="http://127.0.0.1:9/nothing-listens-here")
    )
    await phone.wait_event("CALL_CLOSED", timeout=30)
    await completed(world, call.sid)
    assert "error" in await event_names(world, call.sid, until="error")


async def test_a_busy_destination_completes_with_its_cause(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    phone = await baresip("customer")
    call = await world.calls.place_call(request(world, phone.uri, url=world.receiver.url("/app")))
    await phone.wait_event("CALL_INCOMING", timeout=15)
    await phone.hangup()  # rejects with 486
    last = await completed(world, call.sid)
    assert last["CallDuration"] == "0"
    detail = await world.calls.get_call(call.sid, api_key_id=None)
    assert detail.call.status == "busy"
    assert detail.call.sip_code == 486
    assert (last["CallOutcome"], last["SipResponseCode"]) == ("busy", "486")
    assert not world.receiver.on("/app"), "the application was fetched for an unanswered call"


async def test_a_recorded_call_reports_its_recording_url_on_completed(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    phone = await baresip("customer", auto_answer=True, tone_hz=440.0)
    world.receiver.documents["/app"] = '<Response><Pause length="2"/></Response>'
    call = await world.calls.place_call(
        request(world, phone.uri, url=world.receiver.url("/app"), record=True)
    )
    await phone.wait_event("CALL_CLOSED", timeout=20)
    last = await completed(world, call.sid)
    recording_url = last["RecordingURL"]
    recording_id = int(recording_url.rsplit("/", 1)[1].removesuffix(".wav"))
    path = Path(await world.calls.recording_path(recording_id, api_key_id=None))
    assert tone_frames(path, 440.0) > 25, "the recording does not hold the phone's tone"
    detail = await world.calls.get_call(call.sid, api_key_id=None)
    assert detail.call.recording_url == recording_url
    assert detail.recordings[0].duration is not None
    assert detail.recordings[0].duration >= 1.5


async def test_record_verb_posts_the_recording_to_its_action(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    phone = await baresip("customer", auto_answer=True, tone_hz=440.0)
    world.receiver.documents["/app"] = (
        '<Response><Record maxLength="2" playBeep="false" action="/recorded"/></Response>'
    )
    world.receiver.documents["/recorded"] = "<Response><Hangup/></Response>"
    call = await world.calls.place_call(request(world, phone.uri, url=world.receiver.url("/app")))
    await phone.wait_event("CALL_CLOSED", timeout=20)
    await completed(world, call.sid)
    (posted,) = world.receiver.on("/recorded")
    assert posted.form["RecordingUrl"].endswith(".wav")
    detail = await world.calls.get_call(call.sid, api_key_id=None)
    (recording,) = detail.recordings
    assert tone_frames(Path(recording.path), 440.0) > 25


async def test_a_live_call_is_redirected_then_hung_up_through_the_service(
    world: CallWorld, baresip: BaresipFactory
) -> None:
    phone = await baresip("customer", auto_answer=True)
    world.receiver.documents["/app"] = '<Response><Pause length="60"/></Response>'
    world.receiver.documents["/next"] = '<Response><Say>Moved</Say><Pause length="60"/></Response>'
    call = await world.calls.place_call(request(world, phone.uri, url=world.receiver.url("/app")))
    await world.receiver.wait_for(lambda: bool(world.receiver.on("/app")), timeout=15)
    await world.calls.redirect(call.sid, world.receiver.url("/next"), "POST", api_key_id=None)
    await world.receiver.wait_for(lambda: bool(world.receiver.on("/next")), timeout=10)
    await world.calls.hang_up(call.sid, api_key_id=None)
    await phone.wait_event("CALL_CLOSED", timeout=10)
    last = await completed(world, call.sid)
    assert last["CallStatus"] == "completed"
    assert (last["CallOutcome"], last["SipResponseCode"]) == ("completed", "200")
    detail = await world.calls.get_call(call.sid, api_key_id=None)
    assert detail.call.hangup_by == "local"

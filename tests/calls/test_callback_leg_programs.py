"""seed-000's per-leg attributes end to end: a leg's own voice application (a whisper to the
agent), its ``senddigits`` (an IVR in front of the customer) and ``record``, with baresip
phones as both legs; what each phone heard is checked in its recording, the digits in the
RFC 4733 events baresip decoded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from call_world import ENGINE_HOST, CallWorld, Unlimited
from callback_support import classify, finished, statuses, tone_start

from callbridge.calls.audio import HttpAudioLoader
from callbridge.calls.audio_cache import AudioCache
from callbridge.calls.callback_leg import NO_DIAL_MESSAGE
from callbridge.calls.callbacks_service import CallbackSettings, CallbridgeCallbacks
from callbridge.calls.errors import CallNotRedirectable
from callbridge.calls.request import CallbackRequest, LegSpec, StatusCallback
from callbridge.engine.engine import Engine, EngineSettings
from callbridge.engine.routing import Trunk
from callbridge.httpclient.client import HttpClient
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from callbridge.sip.transaction import Timers
from callbridge.store.clock import SystemClock
from callbridge.webhooks.params import CallbackEvent
from peers.baresip import Baresip
from peers.conftest import BaresipFactory
from webhook_receiver import LOOPBACK_ALLOWED

pytestmark = pytest.mark.peers

# This file's own SIP port and RTP range (the seeds branch's: 5320-5339, 49200-49599).
SIP_PORT = 5320
RTP_RANGE = (49200, 49399)
AGENT_TONE = 700.0
CUSTOMER_TONE = 1000.0
HEARD_BY_AGENT = {"customer": (CUSTOMER_TONE,), "ringback": (440.0, 480.0)}
HEARD_BY_CUSTOMER = {"agent": (AGENT_TONE,), "ringback": (440.0, 480.0)}
WHISPER = "<Response><Say>A new customer from the web form. Connecting you now.</Say></Response>"
ALL_EVENTS = tuple(CallbackEvent)
NODE = "test-node"


@pytest.fixture
async def engine(tts_cache: Path) -> AsyncIterator[Engine]:
    """The calls folder's engine, on this file's port and RTP range."""
    instance = Engine(
        settings=EngineSettings(
            host=ENGINE_HOST,
            port=SIP_PORT,
            trunks=(Trunk(name="carrier", uri="sip:127.0.10.2:5060", default=True),),
            timers=Timers(t1=0.1, t2=0.4, t4=0.5, d=1.0),
        ),
        media=InProcessMediaPlane(host=ENGINE_HOST, port_start=RTP_RANGE[0], port_end=RTP_RANGE[1]),
        tts=Tts(cache_dir=tts_cache),
    )
    await instance.start()
    yield instance
    await instance.close()


@pytest.fixture
def recordings_dir(tmp_path: Path) -> Path:
    """Where the call service (the calls folder's world) keeps its calls' recordings."""
    return tmp_path / "recordings"


@pytest.fixture
async def callbacks(world: CallWorld, tmp_path: Path) -> AsyncIterator[CallbridgeCallbacks]:
    async with HttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0) as client:
        audio = HttpAudioLoader(
            client=client,
            cache=AudioCache(directory=tmp_path / "audio", ttl=300.0, max_bytes=1 << 24),
        )
        service = CallbridgeCallbacks(
            engine=world.engine,
            repository=world.repository,
            clock=SystemClock(),
            audio=audio,
            limiter=Unlimited(),
            settings=CallbackSettings(node=NODE),
            sessions=world.calls.sessions,
            live=world.calls.live,
        )
        try:
            yield service
        finally:
            await service.close()


async def wait_bridged(callbacks: CallbridgeCallbacks, callback_id: str) -> None:
    for _ in range(300):
        detail = await callbacks.get_callback(callback_id, api_key_id=None)
        if any(event.name == "bridged" for event in detail.leg_a.events):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the legs were not bridged")


def leg(world: CallWorld, phone: Baresip, caller_id: str, **changes: object) -> LegSpec:
    values: dict[str, object] = {
        "to": phone.uri,
        "from_": caller_id,
        "status_callback": StatusCallback(url=world.receiver.url("/status"), events=ALL_EVENTS),
    }
    values.update(changes)
    return LegSpec(**values)  # type: ignore[arg-type]


def never_dialled(world: CallWorld) -> LegSpec:
    """A customer leg the agent's leg never gets to."""
    hook = StatusCallback(url=world.receiver.url("/status"), events=ALL_EVENTS)
    return LegSpec(to="15550199", from_="1000123", status_callback=hook)


async def test_the_agent_hears_the_whisper_alone_and_the_customers_ivr_gets_the_digits(
    world: CallWorld,
    callbacks: CallbridgeCallbacks,
    baresip: BaresipFactory,
    recordings_dir: Path,
) -> None:
    agent, customer = await asyncio.gather(
        baresip("agent", auto_answer=True, tone_hz=AGENT_TONE),
        baresip("customer", auto_answer=True, tone_hz=CUSTOMER_TONE),
    )
    world.receiver.documents["/whisper"] = WHISPER
    placed = await callbacks.place_callback(
        CallbackRequest(
            api_key_id=None,
            leg_a=leg(world, agent, "1000125", url=world.receiver.url("/whisper")),
            leg_b=leg(world, customer, "1000123", send_digits="1w23#", record=True),
        )
    )
    await customer.wait_event("CALL_ESTABLISHED", timeout=30)
    await wait_bridged(callbacks, placed.id)
    await asyncio.sleep(2.5)  # each hears the other's tone
    await agent.hangup()
    await asyncio.gather(
        agent.wait_event("CALL_CLOSED", timeout=15), customer.wait_event("CALL_CLOSED")
    )
    detail = await finished(world, callbacks, placed)

    assert customer.received_dtmf == "123#", "the customer's IVR did not get the digits"
    heard_by_agent = classify(agent.recorded_wav, HEARD_BY_AGENT)
    bridged = tone_start(heard_by_agent, "customer")
    assert bridged < len(heard_by_agent), "the agent did not hear the customer"
    assert heard_by_agent[:bridged].count("speech") > 50, "the agent heard no whisper first"
    heard_by_customer = classify(customer.recorded_wav, HEARD_BY_CUSTOMER)
    assert heard_by_customer.count("agent") > 50, "the customer did not hear the agent"
    assert heard_by_customer.count("speech") < 5, "the customer heard the whisper"

    (fetch,) = world.receiver.on("/whisper")
    assert fetch.method == "POST"
    assert fetch.form["CallSid"] == placed.leg_a.sid
    assert fetch.form["To"] == agent.uri
    assert (detail.status, detail.ended_by, detail.reason) == ("completed", "A", "hung_up")
    assert detail.bridged_seconds is not None
    assert detail.bridged_seconds >= 2

    customer_events = statuses(world, placed.leg_b.sid)
    assert [r["CallStatus"] for r in customer_events] == [e.value for e in ALL_EVENTS]
    assert "RecordingURL" not in statuses(world, placed.leg_a.sid)[-1]
    url = customer_events[-1]["RecordingURL"]
    assert url.startswith("http://127.0.0.1:8080/api/v2/recordings/")
    (recording,) = detail.leg_b.recordings
    assert url.endswith(f"/{recording.id}.wav")
    assert Path(recording.path).parent == recordings_dir
    assert recording.duration is not None
    assert recording.duration > detail.bridged_seconds - 0.5  # it covers the bridge
    heard_from_customer = classify(Path(recording.path), {"customer": (CUSTOMER_TONE,)})
    assert heard_from_customer.count("customer") > 100, "the recording lacks the customer"


async def test_an_agent_application_that_hangs_up_declines_the_callback(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    agent = await baresip("agent", auto_answer=True, tone_hz=AGENT_TONE)
    world.receiver.documents["/decline"] = (
        "<Response><Dial><Number>15550100</Number></Dial><Say>Busy.</Say><Hangup/></Response>"
    )
    placed = await callbacks.place_callback(
        CallbackRequest(
            api_key_id=None,
            leg_a=leg(world, agent, "1000125", url=world.receiver.url("/decline")),
            leg_b=never_dialled(world),
        )
    )
    await agent.wait_event("CALL_CLOSED", timeout=30)
    detail = await finished(world, callbacks, placed)

    assert (detail.status, detail.ended_by, detail.reason) == ("failed", "A", "hung_up")
    assert detail.leg_b.call.status == "canceled"
    errors = [e.data["message"] for e in detail.leg_a.events if e.name == "error"]
    assert errors == [NO_DIAL_MESSAGE]
    assert classify(agent.recorded_wav, HEARD_BY_AGENT).count("speech") > 10


async def test_a_broken_application_fails_its_leg_with_the_reason(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    agent = await baresip("agent", auto_answer=True, tone_hz=AGENT_TONE)
    world.receiver.documents["/broken"] = "this is no document"
    placed = await callbacks.place_callback(
        CallbackRequest(
            api_key_id=None,
            leg_a=leg(world, agent, "1000125", url=world.receiver.url("/broken")),
            leg_b=never_dialled(world),
        )
    )
    await agent.wait_event("CALL_CLOSED", timeout=30)
    detail = await finished(world, callbacks, placed)

    assert (detail.status, detail.ended_by, detail.reason) == ("failed", "A", "failed")
    last = statuses(world, placed.leg_a.sid)[-1]
    assert (last["CallStatus"], last["CallOutcome"], last["SipResponseCode"]) == (
        "completed",
        "failed",
        "500",
    )
    errors = [e.data["message"] for e in detail.leg_a.events if e.name == "error"]
    assert len(errors) == 1
    assert "invalid document" in errors[0]
    heard = classify(agent.recorded_wav, HEARD_BY_AGENT)
    assert heard.count("speech") > 50, "the agent did not hear the application error"


async def test_a_legs_own_application_is_redirected_through_the_call_api(
    world: CallWorld, callbacks: CallbridgeCallbacks, baresip: BaresipFactory
) -> None:
    """The leg's application is its session's, so the call API redirects it while it runs
    (as any call's); a leg running none, or bridged, is not redirectable."""
    agent, customer = await asyncio.gather(
        baresip("agent", auto_answer=True, tone_hz=AGENT_TONE),
        baresip("customer", auto_answer=True, tone_hz=CUSTOMER_TONE),
    )
    world.receiver.documents["/hold"] = '<Response><Pause length="60"/></Response>'
    world.receiver.documents["/whisper"] = WHISPER
    whisper = world.receiver.url("/whisper")
    placed = await callbacks.place_callback(
        CallbackRequest(
            api_key_id=None,
            leg_a=leg(world, agent, "1000125", url=world.receiver.url("/hold")),
            leg_b=leg(world, customer, "1000123"),
        )
    )
    await world.receiver.wait_for(lambda: bool(world.receiver.on("/hold")), timeout=30)
    with pytest.raises(CallNotRedirectable):  # B runs no application (nor is it dialled)
        await world.calls.redirect(placed.leg_b.sid, whisper, "POST", api_key_id=None)
    await world.calls.redirect(placed.leg_a.sid, whisper, "POST", api_key_id=None)
    await wait_bridged(callbacks, placed.id)
    with pytest.raises(CallNotRedirectable):  # its application has ended: it is bridged
        await world.calls.redirect(placed.leg_a.sid, whisper, "POST", api_key_id=None)
    await asyncio.sleep(1.5)  # each hears the other's tone
    await agent.hangup()
    await asyncio.gather(
        agent.wait_event("CALL_CLOSED", timeout=15), customer.wait_event("CALL_CLOSED")
    )
    detail = await finished(world, callbacks, placed)

    (fetch,) = world.receiver.on("/whisper")
    assert fetch.form["CallSid"] == placed.leg_a.sid
    assert (detail.status, detail.ended_by, detail.reason) == ("completed", "A", "hung_up")
    heard_by_agent = classify(agent.recorded_wav, HEARD_BY_AGENT)
    bridged = tone_start(heard_by_agent, "customer")
    assert bridged < len(heard_by_agent), "the agent did not hear the customer"
    assert heard_by_agent[:bridged].count("speech") > 50, "the agent heard no whisper first"

"""Inbound calls end to end: a caller at a trunk address (baresip or SIPp) calls a
configured number; the voice application and the status callbacks live on a real HTTP
server in the test; Dial targets are baresip phones."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path

import pytest
from call_world import ENGINE_HOST, CallWorld, Unlimited

from audio_analysis import read_wav_mono, rms, tone_frames
from callbridge.calls.admission import Admission
from callbridge.calls.audio import HttpAudioLoader
from callbridge.calls.audio_cache import AudioCache
from callbridge.calls.destination_policy import DestinationPolicy, KeyRules
from callbridge.calls.errors import CallNotFound
from callbridge.calls.extensions import ExtensionDialer
from callbridge.calls.inbound.handler import InboundCallHandler
from callbridge.calls.inbound.numbers import InboundNumber, NumberPlan
from callbridge.calls.key_secrets import StoredSigningSecrets
from callbridge.calls.limits import CallLimiter, KeyLimits
from callbridge.calls.lines import Line
from callbridge.calls.request import StatusCallback
from callbridge.calls.service import CallbridgeCalls, CallServiceSettings
from callbridge.dialects.voicexml import parse_voice_xml
from callbridge.engine.engine import Engine, EngineSettings
from callbridge.engine.routing import Trunk
from callbridge.httpclient.client import HttpClient
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from callbridge.sip.transaction import Timers
from callbridge.store.api_keys import ApiKeyRepository
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.records import ApiKeyRecord, CallFilters
from callbridge.webhooks.params import CallbackEvent
from callbridge.webhooks.signing import SIGNATURE_HEADER, verify
from peers.conftest import BaresipFactory, SippUacFactory
from webhook_receiver import LOOPBACK_ALLOWED

pytestmark = pytest.mark.peers

NUMBER = "+15550199"
FAST_TIMERS = Timers(t1=0.1, t2=0.4, t4=0.5, d=1.0)
NODE = "test-node"
ENGINE_PORT = 5087  # not the call tests' 5073: these run beside them on a shared machine
TARGET = f"{ENGINE_HOST}:{ENGINE_PORT}"
# The test's callers come from the peers' pools: SIPp 127.0.10.x, baresip 127.0.20.x.
CARRIER_NETWORKS = (ip_network("127.0.10.0/24"), ip_network("127.0.20.0/24"))


@pytest.fixture
async def engine(tts_cache: Path) -> AsyncIterator[Engine]:
    """The call tests' engine, its carrier sending from the peers' addresses."""
    plane = InProcessMediaPlane(host=ENGINE_HOST, port_start=43000, port_end=43199)
    carrier = Trunk(
        name="carrier",
        uri="sip:127.0.10.2:5060",
        default=True,
        inbound_networks=CARRIER_NETWORKS,
    )
    instance = Engine(
        settings=EngineSettings(
            host=ENGINE_HOST,
            port=ENGINE_PORT,
            users=(("1001", "secret1001"), ("1002", "secret1002")),
            trunks=(carrier,),
            timers=FAST_TIMERS,
        ),
        media=plane,
        tts=Tts(cache_dir=tts_cache),
    )
    await instance.start()
    yield instance
    await instance.close()


@dataclass
class Inbound:
    world: CallWorld
    calls: CallbridgeCalls
    key: ApiKeyRecord

    def install(self, *numbers: InboundNumber) -> None:
        engine = self.world.engine
        engine.set_incoming_handler(
            InboundCallHandler(
                numbers=NumberPlan(numbers),
                sessions=self.calls,
                extensions=ExtensionDialer(engine=engine),
                directory=engine.router,
            )
        )

    def app(self, document: str, **overrides: object) -> InboundNumber:
        """``NUMBER`` running ``document``, its callbacks (every event) to /status."""
        self.world.receiver.documents["/app"] = document
        fields: dict[str, object] = {
            "number": NUMBER,
            "voice_url": self.world.receiver.url("/app"),
            "status_callback": StatusCallback(
                url=self.world.receiver.url("/status"), events=tuple(CallbackEvent)
            ),
            "api_key_id": self.key.id,
            "api_key_name": self.key.name,
        }
        fields.update(overrides)
        number = InboundNumber(**fields)  # type: ignore[arg-type]
        self.install(number)
        return number


def audio_cache_in(directory: Path) -> AudioCache:
    return AudioCache(directory=directory, ttl=300.0, max_bytes=64 * 1024 * 1024)


async def inbound_service(
    world: CallWorld, database: Database, tmp_path: Path, client: HttpClient, limiter: Admission
) -> tuple[CallbridgeCalls, ApiKeyRecord]:
    keys = ApiKeyRepository(database=database, clock=SystemClock())
    key = (await keys.create(name="crm", max_concurrent=None)).record
    calls = CallbridgeCalls(
        engine=world.engine,
        repository=world.repository,
        clock=SystemClock(),
        http=client,
        audio=HttpAudioLoader(client=client, cache=audio_cache_in(tmp_path / "in-audio")),
        limiter=limiter,
        settings=CallServiceSettings(
            node=NODE,
            public_url="http://127.0.0.1:8080",
            recordings_dir=tmp_path / "in-recordings",
            translate=parse_voice_xml,
        ),
        live=world.calls.live,
        policy=DestinationPolicy(keys={key.id: KeyRules(allow_sip_uris=True)}),
        secrets=StoredSigningSecrets(keys=keys),
    )
    return calls, key


@pytest.fixture
async def inbound(world: CallWorld, database: Database, tmp_path: Path) -> AsyncIterator[Inbound]:
    async with HttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0) as client:
        calls, key = await inbound_service(world, database, tmp_path, client, Unlimited())
        try:
            yield Inbound(world=world, calls=calls, key=key)
        finally:
            await calls.close()


def callbacks(world: CallWorld, sid: str) -> list[dict[str, str]]:
    forms = [r.form for r in world.receiver.on("/status") if 200 <= r.status < 300]
    return [form for form in forms if form["CallSid"] == sid]


async def completed_callback(world: CallWorld, sid: str) -> list[dict[str, str]]:
    await world.receiver.wait_for(
        lambda: any(f["CallStatus"] == "completed" for f in callbacks(world, sid)), timeout=30
    )
    return callbacks(world, sid)


async def only_call(inbound: Inbound) -> str:
    page = await inbound.calls.list_calls(
        CallFilters(api_key_id=inbound.key.id), cursor=None, limit=10
    )
    assert len(page.calls) >= 1
    return page.calls[-1].sid


def speech_frames(recording: Path | None) -> int:
    assert recording is not None, "no recording"
    _, data = read_wav_mono(recording)
    return sum(1 for i in range(0, len(data) - 160, 160) if rms(data[i : i + 160]) > 300)


async def engine_idle(engine: Engine) -> None:
    for _ in range(200):
        if not engine.legs:
            break
        await asyncio.sleep(0.05)
    assert not engine.legs, f"legs left: {list(engine.legs.values())}"


async def test_an_application_says_a_sentence_then_dials_two_phones(
    inbound: Inbound, baresip: BaresipFactory
) -> None:
    world = inbound.world
    agents = await asyncio.gather(
        baresip("agent0", tone_hz=440.0), baresip("agent1", tone_hz=1000.0)
    )
    inbound.app(
        "<Response><Say>Thank you for calling. Connecting you now.</Say>"
        f'<Dial timeout="15"><Sip>{agents[0].uri}</Sip><Sip>{agents[1].uri}</Sip></Dial>'
        "</Response>"
    )
    caller = await baresip("caller", tone_hz=700.0)
    await caller.dial(f"sip:{NUMBER}@{TARGET}")
    await caller.wait_event("CALL_ESTABLISHED", timeout=15)  # answered for the <Say>
    for agent in agents:
        await agent.wait_event("CALL_INCOMING", timeout=20)
    await agents[1].answer()
    await agents[1].wait_event("CALL_ESTABLISHED", timeout=10)
    await agents[0].wait_event("CALL_CLOSED", timeout=10)  # cancelled
    await asyncio.sleep(1.5)
    await caller.hangup()
    await agents[1].wait_event("CALL_CLOSED", timeout=10)
    await caller.stop()

    assert speech_frames(caller.recorded_wav) > 50
    assert tone_frames(caller.recorded_wav, 1000.0) > 25
    asked = world.receiver.on("/app")[0]
    assert asked.form["Direction"] == "inbound"
    assert asked.form["CallStatus"] == "ringing"
    assert asked.form["AccountSid"] == "crm"
    assert asked.form["To"] == NUMBER
    assert asked.form["Called"] == NUMBER
    assert asked.form["From"] == "caller"
    verify(
        header=asked.headers[SIGNATURE_HEADER.lower()],
        payload=asked.body,
        secret=inbound.key.signing_secret,
        now=time.time(),
    )
    sid = asked.form["CallSid"]
    statuses = [f["CallStatus"] for f in await completed_callback(world, sid)]
    assert statuses == ["initiated", "ringing", "answered", "completed"]
    detail = await inbound.calls.get_call(sid, api_key_id=inbound.key.id)
    assert detail.call.direction == "inbound"
    children = [
        c
        for c in (
            await inbound.calls.list_calls(
                CallFilters(api_key_id=inbound.key.id), cursor=None, limit=10
            )
        ).calls
        if c.parent_sid == sid
    ]
    assert len(children) == 2
    for child in children:
        child_statuses = [f["CallStatus"] for f in await completed_callback(world, child.sid)]
        assert child_statuses[0] == "initiated"
        assert child_statuses[-1] == "completed"
        assert all(f["ParentCallSid"] == sid for f in callbacks(world, child.sid))
    with pytest.raises(CallNotFound):  # another key does not see it
        await inbound.calls.get_call(sid, api_key_id="key_someone_else")
    await engine_idle(world.engine)


async def test_reject_busy_is_486_without_an_answer(
    inbound: Inbound, sipp_uac: SippUacFactory
) -> None:
    inbound.app('<Response><Reject reason="busy"/></Response>')
    result = await sipp_uac(TARGET, "uac_busy", service=NUMBER).run()
    assert result.ok, result
    sid = await only_call(inbound)
    statuses = [f["CallStatus"] for f in await completed_callback(inbound.world, sid)]
    assert "answered" not in statuses
    await engine_idle(inbound.world.engine)


async def test_hangup_before_media_is_603_without_an_answer(
    inbound: Inbound, sipp_uac: SippUacFactory
) -> None:
    inbound.app("<Response><Hangup/></Response>")
    result = await sipp_uac(TARGET, "uac_decline", service=NUMBER).run()
    assert result.ok, result
    await engine_idle(inbound.world.engine)


async def test_an_unknown_number_is_404_and_an_application_error_is_500(
    inbound: Inbound, baresip: BaresipFactory
) -> None:
    inbound.app("<Response><Say>never</Say></Response>")
    caller = await baresip("caller")
    await caller.dial(f"sip:+15550000@{TARGET}")
    closed = await caller.wait_event("CALL_CLOSED", timeout=10)
    assert "404" in str(closed.get("param", ""))
    inbound.world.receiver.documents["/app"] = "this is not XML"
    await caller.dial(f"sip:{NUMBER}@{TARGET}")
    closed = await caller.wait_event("CALL_CLOSED", timeout=10)
    assert "500" in str(closed.get("param", ""))
    sid = await only_call(inbound)
    detail = await inbound.calls.get_call(sid, api_key_id=inbound.key.id)
    names = [e.name for e in detail.events]
    assert "answered" not in names
    completed = next(e for e in detail.events if e.name == "completed")
    assert "application error" in str(completed.data.get("cause"))
    await engine_idle(inbound.world.engine)


async def test_numbers_routed_to_forward_to_a_line_and_a_user(
    inbound: Inbound, baresip: BaresipFactory
) -> None:
    agent = await baresip("agent", tone_hz=1000.0)
    inbound.install(
        InboundNumber(number="+15550101", forward_to=agent.uri),
        InboundNumber(number="+15550102", user="1001"),
        InboundNumber(
            number="+15550103",
            line=Line(id="sales", name="Sales", users=("1001",), forward_to=agent.uri),
        ),
    )
    caller = await baresip("caller")
    await caller.dial(f"sip:15550101@{TARGET}")  # without '+': the same number
    await agent.wait_event("CALL_INCOMING", timeout=10)
    await agent.answer()
    await caller.wait_event("CALL_ESTABLISHED", timeout=10)
    await caller.hangup()
    await asyncio.gather(
        agent.wait_event("CALL_CLOSED", timeout=10), caller.wait_event("CALL_CLOSED", timeout=10)
    )
    # A line: its users first (1001 is offline), then its forward.
    await caller.dial(f"sip:+1 555 0103@{TARGET}".replace(" ", ""))
    await agent.wait_event("CALL_INCOMING", timeout=10)
    await agent.answer()
    await caller.wait_event("CALL_ESTABLISHED", timeout=10)
    await agent.hangup()
    await caller.wait_event("CALL_CLOSED", timeout=10)
    await agent.wait_event("CALL_CLOSED", timeout=10)
    # 1001 is not registered: the Dial fails and the caller is told so (not answered).
    await caller.dial(f"sip:+15550102@{TARGET}")
    closed = await caller.wait_event("CALL_CLOSED", timeout=10)
    assert "480" in str(closed.get("param", ""))
    await engine_idle(inbound.world.engine)


async def test_the_keys_concurrency_limit_counts_inbound_calls(
    world: CallWorld,
    database: Database,
    tmp_path: Path,
    sipp_uac: SippUacFactory,
    baresip: BaresipFactory,
) -> None:
    limiter = CallLimiter()
    async with HttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0) as client:
        calls, key = await inbound_service(world, database, tmp_path, client, limiter)
        limiter.set_limits(key.id, KeyLimits(calls_per_second=None, max_concurrent=1))
        inbound = Inbound(world=world, calls=calls, key=key)
        inbound.app('<Response><Pause length="10"/></Response>')
        try:
            first = await baresip("first")
            await first.dial(f"sip:{NUMBER}@{TARGET}")
            await first.wait_event("CALL_ESTABLISHED", timeout=10)
            second = sipp_uac(TARGET, "uac_busy", service=NUMBER)
            refused = await second.run()
            # uac_busy expects 486: the 503 fails it; the server's answer is in its trace.
            assert not refused.ok
            assert "SIP/2.0 503" in second.message_file.read_text(errors="replace")
            await first.hangup()
            await first.wait_event("CALL_CLOSED", timeout=10)
        finally:
            await calls.close()
    await engine_idle(world.engine)


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><Response><Say>&b;</Say></Response>'
)
DEEP = "<Response>" + "<Gather>" * 5000 + "</Gather>" * 5000 + "</Response>"
HUGE = "<Response>" + "<Pause/>" * 200_000 + "</Response>"  # 1.6 MB: above the limit


@pytest.mark.parametrize("document", [BILLION_LAUGHS, DEEP, HUGE], ids=["entities", "deep", "huge"])
async def test_a_hostile_document_ends_the_call_cleanly_before_an_answer(
    inbound: Inbound, sipp_uac: SippUacFactory, document: str
) -> None:
    inbound.app(document)
    run = sipp_uac(TARGET, "uac_busy", service=NUMBER)
    result = await run.run()
    assert not result.ok  # uac_busy wants 486: the server answered 500, never 200
    trace = run.message_file.read_text(errors="replace")
    assert "SIP/2.0 500" in trace
    assert "SIP/2.0 200" not in trace
    sid = await only_call(inbound)
    detail = await inbound.calls.get_call(sid, api_key_id=inbound.key.id)
    completed = next(e for e in detail.events if e.name == "completed")
    assert "application error" in str(completed.data.get("cause"))
    await engine_idle(inbound.world.engine)
    assert len(inbound.calls.live) == 0  # no live call left behind


async def test_a_caller_who_gives_up_during_a_slow_fetch_ends_the_session_at_once(
    inbound: Inbound, sipp_uac: SippUacFactory
) -> None:
    inbound.app("<Response><Say>late</Say></Response>")
    inbound.world.receiver.delay = 8.0  # the application is slow
    result = await sipp_uac(TARGET, "uac_cancel", service=NUMBER).run()
    assert result.ok, result.errors or result.stats  # 180, CANCEL: 200 and 487, no 200 OK
    sid = await only_call(inbound)
    for _ in range(40):  # well before the application answers
        if len(inbound.calls.live) == 0:
            break
        await asyncio.sleep(0.05)
    assert len(inbound.calls.live) == 0
    inbound.world.receiver.delay = 0.0  # the callbacks (sent again) get through now
    statuses = [f["CallStatus"] for f in await completed_callback(inbound.world, sid)]
    assert "answered" not in statuses
    completed = callbacks(inbound.world, sid)[-1]
    assert completed["CallStatus"] == "completed"
    await engine_idle(inbound.world.engine)

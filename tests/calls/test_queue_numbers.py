"""Queues for inbound calls: a number routed to ``queue = "..."`` and a voice
application's ``<Enqueue>``.  SIPp and baresip callers at a trunk address, baresip
phones registered as the queue's members; the application on a real HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path

import pytest
from call_world import ENGINE_HOST, CallWorld, Unlimited

from callbridge.calls.audio import HttpAudioLoader
from callbridge.calls.audio_cache import AudioCache
from callbridge.calls.control.credentials import authorized_url
from callbridge.calls.control.settings import NumberControl
from callbridge.calls.destination_policy import DestinationPolicy, KeyRules
from callbridge.calls.extensions import ExtensionDialer
from callbridge.calls.inbound.handler import InboundCallHandler
from callbridge.calls.inbound.numbers import InboundNumber, NumberPlan
from callbridge.calls.key_secrets import StoredSigningSecrets
from callbridge.calls.presence import Presence
from callbridge.calls.queues import Queues, QueueSettings, Strategy
from callbridge.calls.queues.enqueue import QueueVerb
from callbridge.calls.service import CallbridgeCalls, CallServiceSettings
from callbridge.dialects.voicexml import parse_voice_xml
from callbridge.engine.engine import Engine, EngineSettings
from callbridge.engine.events import EndReason
from callbridge.engine.leg import CallLeg
from callbridge.engine.routing import Trunk
from callbridge.httpclient.client import HttpClient
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from callbridge.sip.transaction import Timers
from callbridge.store.api_keys import ApiKeyRepository
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.records import ApiKeyRecord, CallFilters
from peers.conftest import BaresipFactory, SippUacFactory
from peers.phones import registered_phone
from webhook_receiver import LOOPBACK_ALLOWED

pytestmark = pytest.mark.peers

ENGINE_PORT = 5261  # the queues' SIP ports: 5260-5279
TARGET = f"{ENGINE_HOST}:{ENGINE_PORT}"
QUEUE_NUMBER = "+15550300"
APP_NUMBER = "+15550301"
OVERFLOW = "<Response><Forward><Target><Number>1003</Number></Target></Forward></Response>"
NOTIFY_URL = "http://127.0.0.1:9/notify"  # the posts are read from the outbox, not sent
CARRIER_NETWORKS = (ip_network("127.0.10.0/24"), ip_network("127.0.20.0/24"))


@pytest.fixture
async def engine(tts_cache: Path) -> AsyncIterator[Engine]:
    plane = InProcessMediaPlane(host=ENGINE_HOST, port_start=48200, port_end=48399)
    carrier = Trunk(
        name="carrier", uri="sip:127.0.10.2:5060", default=True, inbound_networks=CARRIER_NETWORKS
    )
    instance = Engine(
        settings=EngineSettings(
            host=ENGINE_HOST,
            port=ENGINE_PORT,
            users=(("1001", "secret1001"), ("1002", "secret1002")),
            trunks=(carrier,),
            timers=Timers(t1=0.1, t2=0.4, t4=0.5, d=1.0),
        ),
        media=plane,
        tts=Tts(cache_dir=tts_cache),
    )
    await instance.start()
    yield instance
    await instance.close()


class RecordedPlans:
    """A small real plan runner: keeps each plan and refuses the caller busy (486)."""

    def __init__(self) -> None:
        self.plans: list[str] = []

    async def run_plan(self, leg: CallLeg, plan: str, *, accepted: object = None) -> str:
        self.plans.append(plan)
        await leg.hangup(EndReason.BUSY, 486)
        return "blocked"


@dataclass
class QueueCalls:
    world: CallWorld
    calls: CallbridgeCalls
    key: ApiKeyRecord
    queues: Queues
    plans: RecordedPlans


@pytest.fixture
async def queue_calls(
    world: CallWorld, database: Database, tmp_path: Path
) -> AsyncIterator[QueueCalls]:
    engine = world.engine
    presence = Presence(contacts=engine.registrar, extensions=("1001", "1002"))
    engine.watch_legs(presence.watch)
    queues = Queues(
        queues=(
            QueueSettings(
                id="sales",
                members=("1001",),
                strategy=Strategy.RINGALL,
                max_wait=3,
                overflow=OVERFLOW,
                announce_position_every=0,
            ),
        ),
        engine=engine,
        presence=presence,
    )
    plans = RecordedPlans()
    keys = ApiKeyRepository(database=database, clock=SystemClock())
    key = (await keys.create(name="crm", max_concurrent=None)).record
    async with HttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0) as client:
        calls = CallbridgeCalls(
            engine=engine,
            repository=world.repository,
            clock=SystemClock(),
            http=client,
            audio=HttpAudioLoader(
                client=client,
                cache=AudioCache(directory=tmp_path / "a", ttl=300.0, max_bytes=1 << 24),
            ),
            limiter=Unlimited(),
            settings=CallServiceSettings(
                node="test-node",
                public_url="http://127.0.0.1:8080",
                recordings_dir=tmp_path / "rec",
                translate=parse_voice_xml,
            ),
            live=world.calls.live,
            policy=DestinationPolicy(keys={key.id: KeyRules(allow_sip_uris=True)}),
            secrets=StoredSigningSecrets(keys=keys),
            queues=lambda leg, answered=None, overflowed=None: QueueVerb(
                queues=queues, caller=leg, overflow=plans, answered=answered, overflowed=overflowed
            ),
        )
        world.receiver.documents["/app"] = (
            '<Response><Enqueue action="/after">sales</Enqueue><Say>never</Say></Response>'
        )
        world.receiver.documents["/after"] = "<Response><Hangup/></Response>"
        numbers = (
            InboundNumber(
                number=QUEUE_NUMBER,
                queue="sales",
                control=NumberControl(number=QUEUE_NUMBER, notify=authorized_url(NOTIFY_URL)),
            ),
            InboundNumber(
                number=APP_NUMBER,
                voice_url=world.receiver.url("/app"),
                api_key_id=key.id,
                api_key_name=key.name,
            ),
        )
        engine.set_incoming_handler(
            InboundCallHandler(
                numbers=NumberPlan(numbers),
                sessions=calls,
                extensions=ExtensionDialer(engine=engine),
                directory=engine.router,
            )
        )
        try:
            yield QueueCalls(world=world, calls=calls, key=key, queues=queues, plans=plans)
        finally:
            await calls.close()


async def engine_idle(engine: Engine) -> None:
    for _ in range(200):
        if not engine.legs:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"legs left: {list(engine.legs.values())}")


async def notify_posts(calls: QueueCalls, count: int) -> list[list[dict[str, str]]]:
    """The notify posts of the queue number's calls (oldest call first), once the ``count``
    newest calls have their HungUp in the outbox."""
    posts: list[list[dict[str, str]]] = []
    for _ in range(100):
        page = await calls.calls.list_calls(CallFilters(), cursor=None, limit=10)
        posts = []
        for call in reversed(page.calls):
            detail = await calls.world.repository.get_call(call.sid)
            posts.append([dict(d.params) for d in detail.deliveries if d.url == NOTIFY_URL])
        if len(posts) >= count and all(p and p[-1]["event"] == "HungUp" for p in posts):
            break
        await asyncio.sleep(0.05)
    return posts


async def test_a_number_routed_to_a_queue_reaches_a_member_and_overflows_to_its_plan(
    queue_calls: QueueCalls, baresip: BaresipFactory, sipp_uac: SippUacFactory
) -> None:
    # Nobody logged in: the caller is not answered; the overflow plan runs (486 here).
    caller = await baresip("caller")
    await caller.dial(f"sip:{QUEUE_NUMBER}@{TARGET}")
    closed = await caller.wait_event("CALL_CLOSED", timeout=10)
    assert "486" in str(closed.get("param", ""))
    assert queue_calls.plans.plans == [OVERFLOW]
    assert not any(e["type"] == "CALL_ESTABLISHED" for e in caller.events)
    # A member logged in: the SIPp caller talks to it (the member answers at once).
    member = await registered_phone(
        baresip, "1001", registrar=TARGET, password="secret1001", auto_answer=True
    )
    result = await sipp_uac(TARGET, "uac", service=QUEUE_NUMBER, pause_ms=1000).run()
    assert result.ok, result
    await member.wait_event("CALL_CLOSED", timeout=10)
    snapshot = await queue_calls.queues.snapshot("sales")
    assert snapshot.answered == 1
    assert snapshot.overflowed == 1
    page = await queue_calls.calls.list_calls(CallFilters(), cursor=None, limit=10)
    assert {call.to for call in page.calls} == {QUEUE_NUMBER}
    # The number's notify_url (no call control): the overflow plan refused the first caller
    # (blocked); the member took the second (CallAccepted names it, then accepted).
    overflowed, answered = await notify_posts(queue_calls, 2)
    assert [p["event"] for p in overflowed] == ["IncomingCall", "HungUp"]
    assert overflowed[-1]["type"] == "blocked"
    assert [p["event"] for p in answered] == ["IncomingCall", "CallAccepted", "HungUp"]
    assert answered[1]["peer"] == "1001"
    assert answered[2]["type"] == "accepted"
    assert {p["to"] for p in overflowed + answered} == {QUEUE_NUMBER}
    await engine_idle(queue_calls.world.engine)


async def test_enqueue_in_a_document_reports_queue_result_to_its_action(
    queue_calls: QueueCalls, baresip: BaresipFactory
) -> None:
    receiver = queue_calls.world.receiver
    member = await registered_phone(baresip, "1001", registrar=TARGET, password="secret1001")
    caller = await baresip("caller")
    await caller.dial(f"sip:{APP_NUMBER}@{TARGET}")
    await caller.wait_event("CALL_ESTABLISHED", timeout=10)
    await member.wait_event("CALL_INCOMING", timeout=10)
    await member.answer()
    await member.wait_event("CALL_ESTABLISHED", timeout=10)
    await asyncio.sleep(1.0)
    await member.hangup()
    await caller.wait_event("CALL_CLOSED", timeout=10)
    await receiver.wait_for(lambda: bool(receiver.on("/after")), timeout=10)
    form = receiver.on("/after")[0].form
    assert form["QueueResult"] == "bridged"
    assert int(form["QueueTime"]) >= 0
    # Nobody answers within max_wait (3 s): QueueResult=leave, the document goes on.
    await caller.dial(f"sip:{APP_NUMBER}@{TARGET}")
    await caller.wait_event("CALL_ESTABLISHED", timeout=10)
    await receiver.wait_for(lambda: len(receiver.on("/after")) == 2, timeout=15)
    assert receiver.on("/after")[1].form["QueueResult"] == "leave"
    await caller.wait_event("CALL_CLOSED", timeout=10)
    await engine_idle(queue_calls.world.engine)

"""Call control end to end: callers at a trunk address (SIPp, baresip) call a number under
call control; the control URL and the notify URL are real HTTP servers in the test; the
targets are baresip phones and SIPp UAS."""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from call_world import ENGINE_HOST, CallWorld, Unlimited
from starlette.requests import Request
from starlette.responses import Response
from test_inbound_calls import engine_idle, inbound_service, speech_frames

from audio_analysis import goertzel_power, read_wav_mono, rms, tone_frames
from callbridge.calls.announcements.library import AnnouncementLibrary, ConfiguredAnnouncement
from callbridge.calls.control.controlled_call import CallControl
from callbridge.calls.control.credentials import authorized_url
from callbridge.calls.control.notify import HangupType, call_id_of
from callbridge.calls.control.plan_parser import parse_plan
from callbridge.calls.control.ports import ControlPorts
from callbridge.calls.control.settings import NumberControl
from callbridge.calls.destination_policy import DestinationPolicy
from callbridge.calls.extensions import ExtensionDialer
from callbridge.calls.hold_music import HoldMusic
from callbridge.calls.inbound.handler import InboundCallHandler
from callbridge.calls.inbound.numbers import InboundNumber, NumberPlan
from callbridge.calls.service import CallbridgeCalls
from callbridge.engine.engine import Engine, EngineSettings, IncomingCall
from callbridge.engine.routing import Trunk
from callbridge.httpclient.client import HttpClient
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from callbridge.sip.transaction import Timers
from callbridge.store.database import Database
from callbridge.store.records import CallEventRecord, CallFilters
from peers.conftest import BaresipFactory, SippUacFactory, SippUasFactory
from peers.sipp import UasMode
from webhook_receiver import LOOPBACK_ALLOWED, Receiver

pytestmark = pytest.mark.peers

NUMBER = "+4922129191999"
FAST_TIMERS = Timers(t1=0.1, t2=0.4, t4=0.5, d=1.0)
ENGINE_PORT = 5220  # the control branch's ports: SIP 5220-5239, RTP 47200-47599
TARGET = f"{ENGINE_HOST}:{ENGINE_PORT}"
CARRIER_NETWORKS = (ip_network("127.0.10.0/24"), ip_network("127.0.20.0/24"))
ANNOUNCEMENT = "Thank you for calling. Please hold the line."


@pytest.fixture
async def engine(tts_cache: Path) -> AsyncIterator[Engine]:
    plane = InProcessMediaPlane(host=ENGINE_HOST, port_start=47200, port_end=47399)
    carrier = Trunk(
        name="carrier", uri="sip:127.0.10.2:5060", default=True, inbound_networks=CARRIER_NETWORKS
    )
    instance = Engine(
        settings=EngineSettings(
            host=ENGINE_HOST,
            port=ENGINE_PORT,
            users=(("1001", "secret1001"),),
            trunks=(carrier,),
            timers=FAST_TIMERS,
        ),
        media=plane,
        tts=Tts(cache_dir=tts_cache),
    )
    await instance.start()
    yield instance
    await instance.close()


class ScriptedReceiver(Receiver):
    """A receiver whose next answers' statuses are scripted (then ``status``)."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    async def _handle(self, request: Request) -> Response:
        if self.statuses:
            self.status = self.statuses.pop(0)
        elif self.status != 200:
            self.status = 200
        return await super()._handle(request)


@dataclass
class Controlled:
    world: CallWorld
    calls: CallbridgeCalls
    control: Receiver
    service: CallControl
    key_id: str

    def install(self, answer: str | None = None, **fields: Any) -> NumberControl:
        if answer is not None:
            self.control.documents["/control"] = answer
        backup = fields.pop("backup", None)
        api_key_id = fields.pop("api_key_id", None)
        control_url = fields.pop("control_url", self.control.url("/control"))
        settings = NumberControl(
            number=NUMBER,
            control=authorized_url(control_url),
            notify=authorized_url(self.world.receiver.url("/notify")),
            backup=None if backup is None else parse_plan(backup),
            **fields,
        )
        number = InboundNumber(number=NUMBER, control=settings, api_key_id=api_key_id)
        engine = self.world.engine
        engine.set_incoming_handler(
            InboundCallHandler(
                numbers=NumberPlan((number,)),
                sessions=self.calls,
                extensions=ExtensionDialer(engine=engine),
                directory=engine.router,
            )
        )
        return settings

    def notified(self) -> list[dict[str, str]]:
        return [r.form for r in self.world.receiver.on("/notify") if r.status == 200]

    async def hung_up(self) -> list[dict[str, str]]:
        await self.world.receiver.wait_for(
            lambda: any(f["event"] == "HungUp" for f in self.notified()), timeout=60
        )
        return self.notified()

    async def events(self) -> list[CallEventRecord]:
        page = await self.calls.list_calls(CallFilters(), cursor=None, limit=10)
        sid = max(page.calls, key=lambda call: call.created_at).sid
        return list((await self.calls.get_call(sid, api_key_id=None)).events)


@pytest.fixture
async def controlled(
    world: CallWorld, database: Database, tmp_path: Path, tts_cache: Path
) -> AsyncIterator[Controlled]:
    receiver = ScriptedReceiver()
    await receiver.start()
    library = AnnouncementLibrary(
        configured=(ConfiguredAnnouncement(id="7684", text=ANNOUNCEMENT),),
        tts=Tts(cache_dir=tts_cache),
    )
    await library.prepare()
    async with HttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0) as client:
        control = CallControl(
            engine=world.engine,
            is_extension=world.engine.router.is_extension,
            domain="callbridge",
            store=world.repository,
            clock=world.calls._clock,
            http=client,
            ports=ControlPorts(hold_music=HoldMusic.built_in(), announcements=library),
        )
        calls, key = await inbound_service(world, database, tmp_path, client, Unlimited())
        calls._inbound.control = control
        try:
            yield Controlled(
                world=world, calls=calls, control=receiver, service=control, key_id=key.id
            )
        finally:
            await calls.close()
            await receiver.stop()


def caller_audio(recording: Path | None) -> dict[str, int]:
    """20 ms frames of the caller's recording: loud (speech or music), and ringback (loud,
    with both 440 and 480 Hz well above what is near them)."""
    assert recording is not None, "no recording"
    _, data = read_wav_mono(recording)
    frames = [data[i : i + 160] for i in range(0, len(data) - 160, 160)]

    def dominant(frame: Any, hz: float) -> bool:
        return goertzel_power(frame, hz) > 20 * goertzel_power(frame, hz * 1.37)

    ringback = sum(1 for f in frames if rms(f) > 500 and dominant(f, 440.0) and dominant(f, 480.0))
    return {"sounding": speech_frames(recording), "ringback": ringback}


def forward(*targets: tuple[float, tuple[str, ...]], attributes: str = "") -> str:
    inner = "".join(
        f'<Target ringtime="{ringtime:g}">'
        + "".join(f"<Number>{n}</Number>" for n in numbers)
        + "</Target>"
        for ringtime, numbers in targets
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Forward {attributes}>{inner}</Forward></Response>"
    )


def peer(agent: Any) -> str:
    return str(agent.uri).removeprefix("sip:")


async def test_example_3b_rings_targets_in_order_and_the_second_answers(
    controlled: Controlled, baresip: BaresipFactory
) -> None:
    first = await asyncio.gather(baresip("first0"), baresip("first1"))
    second = await asyncio.gather(baresip("second0"), baresip("second1", tone_hz=1000.0))
    controlled.install(forward((3, tuple(map(peer, first))), (20, tuple(map(peer, second)))))
    caller = await baresip("caller", tone_hz=700.0)
    started = time.monotonic()
    await caller.dial(f"sip:{NUMBER}@{TARGET}")
    await asyncio.gather(*(a.wait_event("CALL_INCOMING", timeout=15) for a in first))
    rang_first = time.monotonic() - started
    await asyncio.gather(*(a.wait_event("CALL_INCOMING", timeout=15) for a in second))
    rang_second = time.monotonic() - started
    for agent in first:  # cancelled after the first Target's ringtime
        await agent.wait_event("CALL_CLOSED", timeout=5)
    assert 2.5 < rang_second - rang_first < 5.0, (rang_first, rang_second)
    await second[1].answer()
    await caller.wait_event("CALL_ESTABLISHED", timeout=10)
    await second[0].wait_event("CALL_CLOSED", timeout=10)
    await asyncio.sleep(2.2)
    await caller.hangup()
    await second[1].wait_event("CALL_CLOSED", timeout=10)
    await caller.stop()

    posts = await controlled.hung_up()
    assert [p["event"] for p in posts] == ["IncomingCall", "CallAccepted", "HungUp"]
    asked = controlled.control.on("/control")[0].form
    assert asked == posts[0]
    assert asked["from"] == "caller"
    assert asked["to"] == NUMBER
    assert posts[1]["peer"] == peer(second[1])
    assert posts[2]["type"] == "accepted"
    assert 2 <= int(posts[2]["duration"]) <= 4
    page = await controlled.calls.list_calls(CallFilters(), cursor=None, limit=10)
    assert {p["call_id"] for p in posts} == {call_id_of(page.calls[-1].sid)}
    assert tone_frames(caller.recorded_wav, 1000.0) > 50  # bridged to the answering target
    names = [e.name for e in await controlled.events()]
    assert names.count("forward_ringing") == 4
    assert "control_attempt" in names
    await engine_idle(controlled.world.engine)


async def test_reject_is_603_and_busy_486_blocked(
    controlled: Controlled, sipp_uac: SippUacFactory
) -> None:
    controlled.install('<?xml version="1.0" encoding="UTF-8"?><Response><Reject /></Response>')
    result = await sipp_uac(TARGET, "uac_decline", service=NUMBER).run()
    assert result.ok, result
    controlled.control.documents["/control"] = '<Response><Reject reason="busy" /></Response>'
    result = await sipp_uac(TARGET, "uac_busy", service=NUMBER).run()
    assert result.ok, result
    await controlled.world.receiver.wait_for(
        lambda: sum(f["event"] == "HungUp" for f in controlled.notified()) == 2, timeout=10
    )
    hung_up = [f for f in controlled.notified() if f["event"] == "HungUp"]
    assert [(f["type"], f["duration"]) for f in hung_up] == [("blocked", "0")] * 2
    await engine_idle(controlled.world.engine)


async def test_control_down_retries_then_the_backup_rings(
    controlled: Controlled, baresip: BaresipFactory
) -> None:
    down = Receiver()  # bound, not listening: connections are refused
    target = await baresip("backup", auto_answer=True)
    controlled.install(
        control_url=down.url("/control"),
        retries=3,
        backup=f"<Response><Forward><Target><Number>{peer(target)}</Number></Target>"
        "</Forward></Response>",
    )
    caller = await baresip("caller")
    await caller.dial(f"sip:{NUMBER}@{TARGET}")
    await caller.wait_event("CALL_ESTABLISHED", timeout=15)
    await caller.hangup()
    await caller.stop()
    posts = await controlled.hung_up()
    down._sock.close()
    assert [p["event"] for p in posts] == ["IncomingCall", "CallAccepted", "HungUp"]
    events = await controlled.events()
    attempts = [e for e in events if e.name == "control_attempt"]
    assert [e.data["attempt"] for e in attempts] == [1, 2, 3, 4]
    assert all(e.data["error"] for e in attempts)
    gaps = [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(attempts)]
    # 100 ms apart, and none waits out the attempt's timeout (3 s) on a refused connection;
    # the upper bound leaves room for a loaded machine's scheduling.
    assert all(0.09 < gap < 2.5 for gap in gaps), gaps
    plans = [e.data for e in events if e.name == "control_plan"]
    assert plans == [{"plan": "Forward", "source": "backup"}]


async def test_500_twice_then_a_good_answer_is_used(
    controlled: Controlled, sipp_uac: SippUacFactory
) -> None:
    controlled.install(
        "<Response><Reject/></Response>", retries=3, backup="<Response><Hangup/></Response>"
    )
    controlled.control.statuses = [500, 500]  # type: ignore[attr-defined]
    result = await sipp_uac(TARGET, "uac_decline", service=NUMBER).run()
    assert result.ok, result
    await controlled.hung_up()
    events = await controlled.events()
    attempts = [e.data for e in events if e.name == "control_attempt"]
    assert [a["status_code"] for a in attempts] == [500, 500, 200]
    plans = [e.data for e in events if e.name == "control_plan"]
    assert plans == [{"plan": "Reject", "source": "answer"}]


async def test_no_answer_and_no_backup_is_500_and_queue_runs_the_backup(
    controlled: Controlled, baresip: BaresipFactory
) -> None:
    controlled.install("<Response><Dial>1001</Dial></Response>", retries=0)
    caller = await baresip("caller")
    await caller.dial(f"sip:{NUMBER}@{TARGET}")
    closed = await caller.wait_event("CALL_CLOSED", timeout=10)
    assert "500" in str(closed.get("param", ""))
    controlled.install(
        '<Response><Queue queue_id="123"/></Response>',
        backup='<Response><Reject reason="busy"/></Response>',
    )
    await caller.dial(f"sip:{NUMBER}@{TARGET}")
    closed = await caller.wait_event("CALL_CLOSED", timeout=10)
    assert "486" in str(closed.get("param", ""))
    events = await controlled.events()
    why = next(e.data for e in events if e.name == "queue_unavailable")
    assert why["why"] == "queues are not available"
    await engine_idle(controlled.world.engine)


async def test_basic_auth_reaches_the_receiver_and_no_log_line(
    controlled: Controlled, baresip: BaresipFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = controlled.control.url("/control").replace("http://", "http://crm:pa55-w0rd@")
    controlled.install("<Response><Reject/></Response>", control_url=url)
    caller = await baresip("anon", user="anonymous")
    await caller.dial(f"sip:{NUMBER}@{TARGET}")
    await caller.wait_event("CALL_CLOSED", timeout=10)
    await controlled.hung_up()
    asked = controlled.control.on("/control")[0]
    assert asked.headers["authorization"] == "Basic " + base64.b64encode(b"crm:pa55-w0rd").decode()
    assert asked.form["from"] == "anonymous"
    assert "pa55-w0rd" not in caplog.text
    events = await controlled.events()
    assert "pa55-w0rd" not in repr(events)


async def test_music_on_hold_and_announcement_in_early_media_instead_of_ringback(
    controlled: Controlled, baresip: BaresipFactory
) -> None:
    target = await baresip("agent", tone_hz=1000.0)
    controlled.install(
        forward(
            (20, (peer(target),)), attributes='music_on_hold="true" forward_announcement="7684"'
        )
    )
    caller = await baresip("caller", tone_hz=700.0)
    await caller.dial(f"sip:{NUMBER}@{TARGET}")
    await target.wait_event("CALL_INCOMING", timeout=20)
    await asyncio.sleep(3)  # the caller hears music while the target rings
    await target.answer()
    await caller.wait_event("CALL_ESTABLISHED", timeout=10)
    await asyncio.sleep(1)
    await caller.hangup()
    await caller.stop()
    posts = await controlled.hung_up()
    assert posts[-1]["type"] == "accepted"
    # The announcement's speech, then the built-in music while the target rang (about 3 s,
    # 150 frames, all sounding), not ringback: 20 ms frames dominated by 440 Hz are a few
    # of the speech's and the music's, where ringback gives over 100 (the next test).
    heard = caller_audio(caller.recorded_wav)
    print("caller heard (20 ms frames):", heard)
    assert heard["sounding"] > 200, heard  # ~2.5 s of speech and ~3 s of music
    assert heard["ringback"] < 30, heard  # ringback: over 80 (the next test)
    await engine_idle(controlled.world.engine)


async def test_without_music_the_caller_in_early_media_hears_ringback(
    controlled: Controlled, baresip: BaresipFactory
) -> None:
    target = await baresip("agent", tone_hz=1000.0)
    controlled.install(forward((20, (peer(target),)), attributes='forward_announcement="7684"'))
    caller = await baresip("caller", tone_hz=700.0)
    await caller.dial(f"sip:{NUMBER}@{TARGET}")
    await target.wait_event("CALL_INCOMING", timeout=20)
    await asyncio.sleep(3)
    await target.answer()
    await caller.wait_event("CALL_ESTABLISHED", timeout=10)
    await asyncio.sleep(1)
    await caller.hangup()
    await caller.stop()
    await controlled.hung_up()
    heard = caller_audio(caller.recorded_wav)
    print("caller heard (20 ms frames):", heard)
    assert heard["sounding"] > 50
    assert heard["ringback"] > 80, heard  # the generated ringback
    await engine_idle(controlled.world.engine)


async def test_a_plan_runs_on_any_leg_for_a_queues_overflow(
    controlled: Controlled, sipp_uac: SippUacFactory
) -> None:
    kinds: list[HangupType] = []
    notes: list[str] = []

    class Notes:
        async def note(self, name: str, data: Mapping[str, Any]) -> None:
            notes.append(name)

    class Overflow:
        async def handle(self, call: IncomingCall) -> None:
            plan = '<Response><Reject reason="busy"/></Response>'
            kind = await controlled.service.run_plan(
                call.leg, plan, timeline=Notes(), number=NUMBER
            )
            kinds.append(kind)

    controlled.world.engine.set_incoming_handler(Overflow())
    result = await sipp_uac(TARGET, "uac_busy", service=NUMBER).run()
    assert result.ok, result
    assert kinds == [HangupType.BLOCKED]
    assert notes == ["control_plan"]
    await engine_idle(controlled.world.engine)


async def test_example_3a_a_sip_address_and_a_number_ring_at_once(
    controlled: Controlled, baresip: BaresipFactory, sipp_uas: SippUasFactory
) -> None:
    """Examples 1, 2 and 3a: an external number goes through the default trunk (a SIPp UAS
    at the carrier's address answers it), a ``user@host`` is called directly."""
    carrier = await sipp_uas(UasMode.ANSWER_THEN_BYE, host="127.0.10.2", bye_after_ms=1500)
    phone = await baresip("phone")
    controlled.install(forward((20, (peer(phone), "022129191999"))))
    caller = await baresip("caller")
    await caller.dial(f"sip:{NUMBER}@{TARGET}")
    await phone.wait_event("CALL_INCOMING", timeout=15)  # rung with the number
    await caller.wait_event("CALL_ESTABLISHED", timeout=15)  # the number answered
    await phone.wait_event("CALL_CLOSED", timeout=10)  # cancelled
    await caller.wait_event("CALL_CLOSED", timeout=15)  # the carrier's BYE
    await caller.stop()
    await carrier.stop()
    posts = await controlled.hung_up()
    assert [p["event"] for p in posts] == ["IncomingCall", "CallAccepted", "HungUp"]
    assert posts[1]["peer"] == "022129191999"
    assert posts[2]["type"] == "accepted"
    await engine_idle(controlled.world.engine)


async def test_example_5_voicemail_until_it_exists_is_missed(
    controlled: Controlled, baresip: BaresipFactory
) -> None:
    controlled.install(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Response><Forward voicemail="true" voicemail_announcement="4"/></Response>',
        mailbox="sales",
    )
    caller = await baresip("caller")
    await caller.dial(f"sip:{NUMBER}@{TARGET}")
    closed = await caller.wait_event("CALL_CLOSED", timeout=10)
    assert "480" in str(closed.get("param", ""))
    posts = await controlled.hung_up()
    assert (posts[-1]["type"], posts[-1]["duration"]) == ("missed", "0")
    events = await controlled.events()
    skipped = next(e.data for e in events if e.name == "voicemail_skipped")
    assert skipped == {"mailbox": "sales", "why": "no such mailbox"}
    await engine_idle(controlled.world.engine)


async def test_a_forward_whose_targets_are_busy_gives_the_caller_486(
    controlled: Controlled, baresip: BaresipFactory
) -> None:
    """Nobody answered and no voicemail: the caller hears why, as after a Dial (486 when
    the targets were busy, not a plain 480)."""
    agents = await asyncio.gather(baresip("busy0"), baresip("busy1"))
    controlled.install(forward((20, tuple(map(peer, agents))), attributes='voicemail="false"'))
    caller = await baresip("caller")
    await caller.dial(f"sip:{NUMBER}@{TARGET}")
    await asyncio.gather(*(a.wait_event("CALL_INCOMING", timeout=15) for a in agents))
    for agent in agents:
        await agent.hangup()  # ringing: 486 Busy Here
    closed = await caller.wait_event("CALL_CLOSED", timeout=10)
    assert "486" in str(closed.get("param", "")), closed
    posts = await controlled.hung_up()
    assert (posts[-1]["type"], posts[-1]["duration"]) == ("missed", "0")
    await engine_idle(controlled.world.engine)


async def test_forward_targets_obey_the_numbers_key(
    controlled: Controlled, baresip: BaresipFactory
) -> None:
    """A number with an API key: its control answer may forward only where the key may
    call (a premium-rate number is refused by the default denied prefixes)."""
    world = controlled.world
    controlled.calls._inbound.control = CallControl(
        engine=world.engine,
        is_extension=world.engine.router.is_extension,
        domain="callbridge",
        store=world.repository,
        clock=world.calls._clock,
        http=controlled.service._client._http,
        policy=DestinationPolicy(),  # the key's default rules
    )
    controlled.install(forward((20, ("+49900123456",))), api_key_id=controlled.key_id)
    caller = await baresip("caller")
    await caller.dial(f"sip:{NUMBER}@{TARGET}")
    closed = await caller.wait_event("CALL_CLOSED", timeout=10)
    assert "480" in str(closed.get("param", ""))
    posts = await controlled.hung_up()
    assert posts[-1]["type"] == "missed"
    events = await controlled.events()
    refused = next(e.data for e in events if e.name == "forward_refused")
    assert refused["to"] == "+49900123456"
    assert "denied_prefixes" in refused["why"]
    await engine_idle(world.engine)

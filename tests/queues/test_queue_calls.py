"""Queues end to end: baresip phones registered as members (1001, 1002), SIPp and
baresip callers; the queue rings members through the switch and bridges the first to
answer.  The music on hold here is a small real source (an endless 600 Hz tone) so that
the caller's recording can tell music, the spoken position and the member apart."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from queue_world import ENGINE_HOST, ENGINE_PORT

from audio_analysis import goertzel_power, read_wav_mono, rms, tone_frames
from callbridge.calls.presence import Presence
from callbridge.calls.queues import QueueResult, Queues, QueueSettings, Strategy
from callbridge.engine.engine import Engine, IncomingCall
from callbridge.engine.events import EndReason
from callbridge.media.plane import AudioSource
from callbridge.media.sources import ToneSource
from peers.baresip import Baresip
from peers.conftest import BaresipFactory, SippUacFactory
from peers.phones import registered_phone

pytestmark = pytest.mark.peers

TARGET = f"{ENGINE_HOST}:{ENGINE_PORT}"
MUSIC_HZ = 600.0
OVERFLOW = "<Response><Forward><Target><Number>1003</Number></Target></Forward></Response>"


class ToneMusic:
    def source(self) -> AudioSource:
        return ToneSource(frequencies=(MUSIC_HZ,), duration_s=None, level=0.3)


class QueueHandler:
    """The engine's incoming-call handler: every caller waits in ``queue_id``."""

    def __init__(self, queues: Queues, queue_id: str) -> None:
        self.queues = queues
        self.queue_id = queue_id
        self.results: list[QueueResult] = []

    async def handle(self, call: IncomingCall) -> None:
        result = await self.queues.wait_in(call.leg, self.queue_id)
        self.results.append(result)
        if call.leg.ended is None:
            await call.leg.hangup(EndReason.FAILED, 480, detail="queue overflow")

    def answered_by(self) -> list[str | None]:
        return [r.answered_by for r in self.results]

    async def wait_results(self, count: int, timeout: float = 10.0) -> None:
        """Until ``count`` callers have left the queue (a BYE's wind-down comes last)."""
        for _ in range(int(timeout / 0.05)):
            if len(self.results) >= count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(self.results)} results, not {count}")


def queues_on(engine: Engine, **settings: object) -> QueueHandler:
    fields: dict[str, object] = {"id": "sales", "members": ("1001", "1002")}
    fields.update(settings)
    presence = Presence(contacts=engine.registrar, extensions=("1001", "1002", "1003"))
    engine.watch_legs(presence.watch)
    queues = Queues(
        queues=(QueueSettings(**fields),),  # type: ignore[arg-type]
        engine=engine,
        presence=presence,
        music=ToneMusic(),
    )
    handler = QueueHandler(queues, "sales")
    engine.set_incoming_handler(handler)
    return handler


async def members(
    baresip: BaresipFactory, users: Sequence[str], *, auto_answer: bool, tones: Sequence[float]
) -> list[Baresip]:
    return list(
        await asyncio.gather(
            *(
                registered_phone(
                    baresip,
                    user,
                    registrar=TARGET,
                    password=f"secret{user}",
                    auto_answer=auto_answer,
                    tone_hz=tone,
                )
                for user, tone in zip(users, tones, strict=True)
            )
        )
    )


def speech_frames(recording: object, *, not_hz: Sequence[float]) -> int:
    """Loud 20 ms frames that are none of the tones ``not_hz`` (speech)."""
    assert recording is not None
    _, data = read_wav_mono(recording)  # type: ignore[arg-type]
    count = 0
    for start in range(0, len(data) - 160, 160):
        frame = data[start : start + 160]
        if rms(frame) < 300:
            continue
        total = float((frame.astype(float) ** 2).mean()) / 2
        if all(goertzel_power(frame, hz) < 0.3 * total for hz in not_hz):
            count += 1
    return count


async def engine_idle(engine: Engine) -> None:
    for _ in range(200):
        if not engine.legs:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"legs left: {list(engine.legs.values())}")


async def test_ringall_rings_both_the_first_to_answer_gets_the_caller_who_heard_music(
    engine: Engine, baresip: BaresipFactory
) -> None:
    handler = queues_on(engine, strategy=Strategy.RINGALL, announce_position_every=20)
    agents = await members(baresip, ("1001", "1002"), auto_answer=False, tones=(440.0, 1000.0))
    caller = await baresip("caller", tone_hz=700.0)
    await caller.dial(f"sip:sales@{TARGET}")
    await caller.wait_event("CALL_ESTABLISHED", timeout=10)  # answered on joining
    for agent in agents:
        await agent.wait_event("CALL_INCOMING", timeout=10)
    await asyncio.sleep(4.0)  # the caller hears "You are caller number 1", then music
    snapshot = await handler.queues.snapshot("sales")
    assert [w.position for w in snapshot.waiting] == [1]
    assert {m.state for m in snapshot.members} == {"ringing"}
    await agents[1].answer()
    await agents[1].wait_event("CALL_ESTABLISHED", timeout=10)
    await agents[0].wait_event("CALL_CLOSED", timeout=10)  # cancelled
    await asyncio.sleep(1.5)
    assert (await handler.queues.snapshot("sales")).members[1].state == "busy"
    await caller.hangup()
    await agents[1].wait_event("CALL_CLOSED", timeout=10)
    await caller.stop()
    await handler.wait_results(1)
    assert handler.answered_by() == ["1002"]
    recording = caller.recorded_wav
    music = tone_frames(recording, MUSIC_HZ)
    member = tone_frames(recording, 1000.0)
    speech = speech_frames(recording, not_hz=(MUSIC_HZ, 1000.0, 440.0))
    print(f"caller heard: {speech} speech frames, {music} music frames, {member} member frames")
    assert speech > 40  # "You are caller number 1." (~1.5 s)
    assert music > 50  # then the music (> 1 s)
    assert member > 25  # then the member who answered
    snapshot = await handler.queues.snapshot("sales")
    assert snapshot.answered == 1
    assert snapshot.waiting == ()
    assert snapshot.average_wait is not None
    assert snapshot.average_wait > 3
    await engine_idle(engine)


async def test_roundrobin_rotates_the_answering_member_over_ten_calls(
    engine: Engine, baresip: BaresipFactory, sipp_uac: SippUacFactory
) -> None:
    handler = queues_on(engine, strategy=Strategy.ROUNDROBIN, wrapup=0, announce_position_every=0)
    await members(baresip, ("1001", "1002"), auto_answer=True, tones=(440.0, 1000.0))
    run = sipp_uac(
        TARGET, "uac", service="sales", calls=10, rate=2, pause_ms=500, extra=["-l", "1"]
    )
    result = await run.run(timeout=60)
    assert result.ok, result
    await handler.wait_results(10)
    assert handler.answered_by() == ["1001", "1002"] * 5
    await engine_idle(engine)


async def test_busy_and_wrapup_members_are_skipped(
    engine: Engine, baresip: BaresipFactory, sipp_uac: SippUacFactory
) -> None:
    handler = queues_on(
        engine,
        strategy=Strategy.LINEAR,
        wrapup=30,
        max_wait=2,
        overflow=OVERFLOW,
        announce_position_every=0,
    )
    agents = await members(baresip, ("1001", "1002"), auto_answer=True, tones=(440.0, 1000.0))
    # Two callers 0.5 s apart, each talking 3 s: 1001 is busy with the first, so 1002
    # takes the second although linear prefers 1001.
    both = sipp_uac(TARGET, "uac", service="sales", calls=2, rate=2, pause_ms=3000)
    assert (await both.run(timeout=30)).ok
    await handler.wait_results(2)
    assert handler.answered_by() == ["1001", "1002"]
    # Both rest 30 s after their calls (wrap-up): the next caller finds nobody free, and
    # overflows after max_wait; neither phone is rung.
    states = {m.extension: m.state for m in (await handler.queues.snapshot("sales")).members}
    assert states == {"1001": "wrapup", "1002": "wrapup"}
    third = sipp_uac(TARGET, "uac", service="sales", calls=1, pause_ms=5000)
    await third.run(timeout=20)
    await handler.wait_results(3)
    assert handler.results[-1].overflowed
    assert handler.results[-1].overflow_plan == OVERFLOW
    assert handler.results[-1].waited >= 2
    for agent in agents:
        assert sum(e["type"] == "CALL_ESTABLISHED" for e in agent.events) == 1
    await engine_idle(engine)


async def test_overflow_after_max_wait_rings_again_and_at_once_when_nobody_is_logged_in(
    engine: Engine, baresip: BaresipFactory, sipp_uac: SippUacFactory
) -> None:
    handler = queues_on(
        engine,
        members=("1001", "1003"),
        member_timeout=1.0,
        max_wait=3.5,
        overflow=OVERFLOW,
        announce_position_every=0,
    )
    # Nobody logged in: the caller does not join (not answered) and overflows at once.
    alone = sipp_uac(TARGET, "uac", service="sales", calls=1)
    await alone.run(timeout=10)
    await handler.wait_results(1)
    first = handler.results[-1]
    assert first.overflowed
    assert first.overflow_plan == OVERFLOW
    assert first.waited < 0.5
    assert (await handler.queues.snapshot("sales")).answered == 0
    # 1001 logged in but not answering: rung again after each member_timeout until
    # max_wait, then the overflow plan.
    (agent,) = await members(baresip, ("1001",), auto_answer=False, tones=(440.0,))
    caller = await baresip("caller")
    await caller.dial(f"sip:sales@{TARGET}")
    await caller.wait_event("CALL_ESTABLISHED", timeout=10)
    await caller.wait_event("CALL_CLOSED", timeout=15)
    await handler.wait_results(2)
    result = handler.results[-1]
    assert result.overflowed
    assert result.answered_by is None
    assert 3.5 <= result.waited < 5
    rung = sum(e["type"] == "CALL_INCOMING" for e in agent.events)
    assert rung >= 2, agent.events
    snapshot = await handler.queues.snapshot("sales")
    assert snapshot.overflowed == 2
    assert snapshot.answered == 0
    await engine_idle(engine)


async def test_ring_members_returns_the_answered_member_leg_who_then_rests(
    engine: Engine, baresip: BaresipFactory
) -> None:
    handler = queues_on(engine, strategy=Strategy.LINEAR, wrapup=30, member_timeout=2.0)
    queues = handler.queues
    silent, answering = await members(
        baresip, ("1001", "1002"), auto_answer=False, tones=(440.0, 1000.0)
    )

    async def answer_1002() -> None:
        await answering.wait_event("CALL_INCOMING", timeout=10)
        await answering.answer()

    helper = asyncio.create_task(answer_1002())
    leg = await queues.ring_members("sales", caller_id="+15550100", display_name="Customer")
    await helper
    assert leg is not None
    assert leg.callee.user == "1002"
    assert sum(e["type"] == "CALL_INCOMING" for e in silent.events) == 1  # linear: 1001 first
    states = {m.extension: m.state for m in (await queues.snapshot("sales")).members}
    assert states["1002"] == "busy"
    await leg.hangup()
    await answering.wait_event("CALL_CLOSED", timeout=10)
    states = {m.extension: m.state for m in (await queues.snapshot("sales")).members}
    assert states == {"1001": "online", "1002": "wrapup"}
    # 1002 rests and 1001 does not answer: nobody
    assert await queues.ring_members("sales", caller_id="+15550100", display_name=None) is None
    await engine_idle(engine)


async def test_a_member_busy_on_another_call_is_skipped(
    engine: Engine, baresip: BaresipFactory, sipp_uac: SippUacFactory
) -> None:
    handler = queues_on(engine, strategy=Strategy.LINEAR, announce_position_every=0)
    agents = await members(baresip, ("1001", "1002"), auto_answer=True, tones=(440.0, 1000.0))
    # 1001 takes a call that is not the queue's (presence: busy while it is answered).
    other = await engine.originate("1001", caller_id="+15550999")
    await other.wait_answered()
    assert (await handler.queues.snapshot("sales")).members[0].state == "busy"
    result = await sipp_uac(TARGET, "uac", service="sales", pause_ms=1000).run()
    assert result.ok, result
    await handler.wait_results(1)
    assert handler.answered_by() == ["1002"]
    assert sum(e["type"] == "CALL_ESTABLISHED" for e in agents[0].events) == 1  # only `other`
    await other.hangup()
    await engine_idle(engine)

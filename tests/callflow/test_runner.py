"""CallflowRunner: verbs in order, actions, redirects, guards, failures, hangups."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from callflow_fakes import FakeApp, FakeAudio, FakeDialer, FakeLeg, FakeRecorder, FakeSleep

from callbridge.callflow import (
    CallflowRunner,
    Completed,
    Dial,
    DialGroup,
    DialTarget,
    Enqueue,
    Failed,
    FetchError,
    Gather,
    Hangup,
    HungUp,
    InvalidProgram,
    Outcome,
    Pause,
    Play,
    Program,
    Record,
    Redirect,
    Redirected,
    Reject,
    RunnerLimits,
    Say,
    SendDigits,
    Verb,
)
from callbridge.callflow.failure import ERROR_ANNOUNCEMENT
from callbridge.callflow.ports import DialResult, EnqueueResult
from callbridge.engine.events import EndReason, LegState

BASE = "https://app.example/ivr.xml"
ANNOUNCED = ("say", ERROR_ANNOUNCEMENT, None)
HUNG_UP = ("hangup", EndReason.HUNG_UP, None)
FAILED_HANGUP = ("hangup", EndReason.FAILED, None)


def program(*verbs: Verb) -> Program:
    return Program(verbs=verbs, base_url=BASE)


@dataclass
class Harness:
    leg: FakeLeg = field(default_factory=FakeLeg)
    app: FakeApp = field(default_factory=FakeApp)
    dialer: FakeDialer = field(
        default_factory=lambda: FakeDialer(
            DialResult(status="completed", duration=61.2, answered_target=None)
        )
    )
    recorder: FakeRecorder = field(default_factory=FakeRecorder)
    limits: RunnerLimits = field(default_factory=RunnerLimits)
    block_sleep: bool = False

    def runner(self) -> CallflowRunner:
        return CallflowRunner(
            leg=self.leg,
            fetcher=self.app,
            dialer=self.dialer,
            recorder=self.recorder,
            audio=FakeAudio(),
            translate=self.app.translate,
            limits=self.limits,
            sleep=FakeSleep(self.leg.calls, block=self.block_sleep),
            clock=self.clock,
        )

    def clock(self) -> float:
        """Time passes only by the runner's sleeps."""
        return sum(call[1] for call in self.leg.calls if call[0] == "sleep")

    async def run(self, *verbs: Verb) -> Outcome:
        return await self.runner().run(program(*verbs))


async def test_verbs_run_in_order_then_the_call_is_hung_up() -> None:
    h = Harness()
    outcome = await h.run(
        Say(text="Your pin is 8 9 70", voice="man"),
        Pause(length=2),
        Play(url="https://cdn.example/a.wav", loop=2),
    )
    assert outcome == Completed()
    assert h.leg.calls == [
        ("say", "Your pin is 8 9 70", "man"),
        ("sleep", 2),
        ("play", "https://cdn.example/a.wav"),
        ("play", "https://cdn.example/a.wav"),
        HUNG_UP,
    ]


async def test_language_stands_in_for_a_missing_voice() -> None:
    h = Harness()
    await h.run(Say(text="Bonjour", language="fr-fr", loop=2))
    assert h.leg.calls[:2] == [("say", "Bonjour", "fr-fr")] * 2


async def test_an_unanswered_leg_is_answered_before_media() -> None:
    h = Harness(leg=FakeLeg(state=LegState.RINGING))
    await h.run(Say(text="hi"))
    assert h.leg.calls[:2] == [("answer",), ("say", "hi", None)]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("rejected", (EndReason.DECLINED, 603)), ("busy", (EndReason.BUSY, 486))],
)
async def test_reject_refuses_an_unanswered_leg(
    reason: str, expected: tuple[EndReason, int]
) -> None:
    h = Harness(leg=FakeLeg(state=LegState.RINGING))
    outcome = await h.run(Reject(reason=reason), Say(text="never"))  # type: ignore[arg-type]
    assert outcome == Completed()
    assert h.leg.calls == [("hangup", *expected)]


async def test_hangup_ends_the_program() -> None:
    h = Harness()
    assert await h.run(Hangup(), Say(text="never")) == Completed()
    assert h.leg.calls == [HUNG_UP]


async def test_send_digits_waits_and_sends_in_steps() -> None:
    h = Harness()
    await h.run(SendDigits(digits="WW1w23"))
    assert h.leg.calls == [
        ("sleep", 1.0),
        ("sleep", 1.0),
        ("dtmf", "1"),
        ("sleep", 0.5),
        ("dtmf", "23"),
        HUNG_UP,
    ]


async def test_gather_posts_digits_to_its_action_and_runs_the_answer() -> None:
    action = "https://app.example/pin"
    h = Harness(leg=FakeLeg(digits=("1234",)))
    h.app.documents[action] = program(Say(text="Thanks"))
    prompt = Say(text="Enter your pin")
    outcome = await h.run(
        Gather(num_digits=4, action=action, method="GET", prompts=(prompt,)),
        Say(text="not reached"),
    )
    assert outcome == Completed()
    assert h.app.requests == [(action, "GET", {"Digits": "1234"})]
    assert h.leg.calls == [
        ("flush",),
        ("say", "Enter your pin", None),
        ("collect", 4, "#"),
        ("say", "Thanks", None),
        HUNG_UP,
    ]


async def test_gather_without_input_falls_through() -> None:
    h = Harness()
    await h.run(Gather(action="https://app.example/pin"), Say(text="No input"))
    assert h.app.requests == []
    assert ("say", "No input", None) in h.leg.calls


async def test_gather_without_action_continues_with_the_next_verb() -> None:
    h = Harness(leg=FakeLeg(digits=("5",)))
    await h.run(Gather(), Say(text="next"))
    assert ("say", "next", None) in h.leg.calls


async def test_redirect_fetches_and_runs_the_new_document() -> None:
    target = "https://app.example/next.xml"
    h = Harness()
    h.app.documents[target] = program(Say(text="moved"))
    outcome = await h.run(Redirect(url=target, method="GET"), Say(text="not reached"))
    assert outcome == Completed()
    assert h.app.requests == [(target, "GET", {})]
    assert h.leg.calls == [("say", "moved", None), HUNG_UP]


async def test_run_url_fetches_the_first_document() -> None:
    h = Harness()
    h.app.documents[BASE] = program(Say(text="hello"))
    assert await h.runner().run_url(BASE) == Completed()
    assert h.app.requests == [(BASE, "POST", {})]


async def test_record_posts_the_recording_to_its_action() -> None:
    action = "https://app.example/voicemail"
    h = Harness(leg=FakeLeg(digits=("#",)))
    h.app.documents[action] = program(Hangup())
    outcome = await h.run(Record(action=action, max_length=30))
    assert outcome == Completed()
    path = Path("/recordings/leg-1.wav")
    assert h.leg.calls[:5] == [
        ("play", "beep"),
        ("flush",),
        ("record", path),
        ("collect", 1, ""),
        ("stop_recording",),
    ]
    assert h.app.requests == [
        (
            action,
            "POST",
            {
                "RecordingUrl": f"https://files.example{path}",
                "RecordingDuration": "4",
                "Digits": "#",
            },
        )
    ]


async def test_record_still_posts_when_the_caller_hangs_up() -> None:
    action = "https://app.example/voicemail"
    h = Harness(leg=FakeLeg(hang_up_on="collect"))
    h.app.documents[action] = program(Say(text="ignored"))
    outcome = await h.run(Record(action=action, play_beep=False), Say(text="not reached"))
    assert isinstance(outcome, HungUp)
    assert h.app.requests[0][2]["Digits"] == "hangup"
    assert ("stop_recording",) in h.leg.calls
    assert not [call for call in h.leg.calls if call[0] == "say"]


async def test_dial_posts_its_status_to_the_action() -> None:
    action = "https://app.example/after-dial"
    h = Harness(dialer=FakeDialer(DialResult(status="busy", duration=0, answered_target=None)))
    h.app.documents[action] = program(Say(text="They are busy"))
    target = DialTarget(kind="number", address="+19499300360")
    dial = Dial(groups=(DialGroup(targets=(target,)),), action=action)
    assert await h.run(dial) == Completed()
    assert h.dialer.dials == [(h.leg, dial)]
    assert h.app.requests == [(action, "POST", {"DialCallStatus": "busy", "DialCallDuration": "0"})]
    assert ("say", "They are busy", None) in h.leg.calls


R = EndReason


@pytest.mark.parametrize(
    ("ends", "expected"),
    [
        ((R.BUSY,), (R.BUSY, 486)),
        ((R.DECLINED,), (R.DECLINED, 603)),
        ((R.NO_ANSWER,), (R.NO_ANSWER, 480)),
        ((R.FAILED, R.UNREACHABLE), (R.FAILED, 502)),
        ((R.UNREACHABLE,), (R.UNREACHABLE, 504)),
        ((), (R.FAILED, 502)),  # nothing could be dialled
    ],
)
@pytest.mark.parametrize("then", [(), (Hangup(),)], ids=["ends", "hangs-up"])
async def test_an_unanswered_leg_whose_dial_nobody_answered_ends_saying_why(
    ends: tuple[EndReason, ...], expected: tuple[EndReason, int], then: tuple[Verb, ...]
) -> None:
    result = DialResult(status="busy", duration=0, answered_target=None, target_ends=ends)
    h = Harness(leg=FakeLeg(state=LegState.RINGING), dialer=FakeDialer(result))
    target = DialTarget(kind="number", address="+19499300360")
    assert await h.run(Dial(groups=(DialGroup(targets=(target,)),)), *then) == Completed()
    assert h.leg.calls == [("hangup", *expected)]
    ended = h.leg.ended
    assert ended is not None
    assert "no Dial target answered" in ended.detail


async def test_a_dial_action_document_decides_for_itself() -> None:
    """After an unanswered Dial its action may Reject, or play (answering the call)."""
    action = "https://app.example/after-dial"
    result = DialResult(status="busy", duration=0, answered_target=None, target_ends=(R.BUSY,))
    target = DialTarget(kind="number", address="+19499300360")
    dial = Dial(groups=(DialGroup(targets=(target,)),), action=action)
    h = Harness(leg=FakeLeg(state=LegState.RINGING), dialer=FakeDialer(result))
    h.app.documents[action] = program(Reject(reason="rejected"))
    await h.run(dial)
    assert h.leg.calls == [("hangup", R.DECLINED, 603)]
    h = Harness(leg=FakeLeg(state=LegState.RINGING), dialer=FakeDialer(result))
    h.app.documents[action] = program(Say(text="They are busy"))
    await h.run(dial)
    assert h.leg.calls == [("answer",), ("say", "They are busy", None), HUNG_UP]
    # An empty action document: the Dial's outcome still stands.
    h = Harness(leg=FakeLeg(state=LegState.RINGING), dialer=FakeDialer(result))
    h.app.documents[action] = program()
    await h.run(dial)
    assert h.leg.calls == [("hangup", R.BUSY, 486)]


async def test_an_unanswered_hangup_without_a_dial_still_declines() -> None:
    h = Harness(leg=FakeLeg(state=LegState.RINGING))
    assert await h.run(Hangup()) == Completed()
    assert h.leg.calls == [("hangup", R.HUNG_UP, 603)]


async def test_the_caller_hanging_up_mid_program_returns_hung_up() -> None:
    h = Harness(leg=FakeLeg(hang_up_on="say"))
    outcome = await h.run(Say(text="one"), Say(text="two"), Play(url="https://cdn.example/a"))
    assert isinstance(outcome, HungUp)
    assert outcome.ended.reason is EndReason.HUNG_UP
    assert h.leg.calls == [("say", "one", None)]


async def test_a_pause_ends_when_the_leg_does() -> None:
    h = Harness(block_sleep=True)
    task = asyncio.create_task(h.run(Pause(length=3600), Say(text="never")))
    await asyncio.sleep(0.01)
    h.leg.remote_hangup()
    outcome = await asyncio.wait_for(task, 1)
    assert isinstance(outcome, HungUp)
    assert h.leg.calls == [("sleep", 3600)]


async def test_redirect_from_outside_interrupts_the_program() -> None:
    h = Harness(leg=FakeLeg(block_on="say"))
    runner = h.runner()
    task = asyncio.create_task(runner.run(program(Say(text="hold music"))))
    await asyncio.sleep(0.01)
    assert runner.redirect("https://app.example/other.xml", "GET")
    outcome = await asyncio.wait_for(task, 1)
    assert outcome == Redirected(url="https://app.example/other.xml", method="GET")
    assert not task.cancelled()
    assert not runner.redirect("https://app.example/late.xml")


async def test_fetch_error_announces_and_hangs_up() -> None:
    h = Harness(leg=FakeLeg(digits=("1",)))
    outcome = await h.run(Gather(action="https://app.example/gone"), Say(text="no"))
    assert isinstance(outcome, Failed)
    assert "https://app.example/gone" in outcome.error
    assert h.leg.calls[-2:] == [ANNOUNCED, FAILED_HANGUP]
    # The leg's end says what broke (issue 15 item 9), not a normal hang-up.
    assert h.leg.ended is not None
    assert h.leg.ended.reason is EndReason.FAILED
    assert h.leg.ended.detail == f"application error: {outcome.error}"


async def test_invalid_document_fails_the_same_way() -> None:
    target = "https://app.example/broken.xml"
    h = Harness()
    h.app.documents[target] = InvalidProgram("unknown verb <Foo>")
    outcome = await h.run(Redirect(url=target))
    assert isinstance(outcome, Failed)
    assert "unknown verb <Foo>" in outcome.error
    assert h.leg.calls == [ANNOUNCED, FAILED_HANGUP]


async def test_unreachable_play_url_fails() -> None:
    h = Harness()
    outcome = await h.run(Play(url="https://cdn.example/missing.wav"))
    assert isinstance(outcome, Failed)
    assert h.leg.calls == [ANNOUNCED, FAILED_HANGUP]


async def test_a_slow_fetch_times_out() -> None:
    class Hanging(FakeApp):
        async def fetch(self, url: str, method: str, params: object) -> bytes:
            await asyncio.Event().wait()
            raise AssertionError

    h = Harness(app=Hanging(), limits=RunnerLimits(fetch_timeout=0.01))
    outcome = await h.run(Redirect(url="https://app.example/slow"))
    assert isinstance(outcome, Failed)
    assert "timed out" in outcome.error


async def test_failure_before_answer_rejects_without_announcement() -> None:
    h = Harness(leg=FakeLeg(state=LegState.RINGING))
    h.app.documents["https://app.example/x"] = FetchError("connection refused")
    outcome = await h.runner().run_url("https://app.example/x")
    assert isinstance(outcome, Failed)
    assert "connection refused" in outcome.error
    assert h.leg.calls == [("hangup", EndReason.FAILED, None)]


async def test_redirect_loop_is_stopped() -> None:
    loop_url = "https://app.example/loop.xml"
    h = Harness()
    h.app.documents[loop_url] = program(Redirect(url=loop_url))
    outcome = await h.run(Redirect(url=loop_url))
    assert isinstance(outcome, Failed)
    assert "without any media" in outcome.error
    assert len(h.app.requests) == RunnerLimits().max_idle_documents
    assert h.leg.calls == [ANNOUNCED, FAILED_HANGUP]


async def test_documents_that_play_something_reset_the_loop_guard() -> None:
    loop_url = "https://app.example/menu.xml"
    h = Harness(limits=RunnerLimits(max_idle_documents=2, max_verbs=50))
    h.app.documents[loop_url] = program(Say(text="menu"), Redirect(url=loop_url))
    outcome = await h.run(Redirect(url=loop_url))
    assert isinstance(outcome, Failed)
    assert "more than 50 verbs" in outcome.error


async def test_a_fast_redirect_loop_is_ended_by_the_fetch_rate_limit() -> None:
    """Issue 15 item 11: <Pause length="0.2"/><Redirect> to itself fetched 5 documents a
    second until 10 000 verbs (17 minutes); now at most 30 fetches within a minute."""
    loop_url = "https://app.example/spin.xml"
    h = Harness()
    h.app.documents[loop_url] = program(Pause(length=0.2), Redirect(url=loop_url))
    outcome = await h.run(Redirect(url=loop_url))
    assert isinstance(outcome, Failed)
    assert outcome.error == "more than 30 documents fetched within a minute"
    assert len(h.app.requests) == RunnerLimits().max_documents_per_minute
    assert h.leg.calls[-2:] == [ANNOUNCED, FAILED_HANGUP]
    assert h.clock() == pytest.approx(6.0)


async def test_a_slow_redirect_loop_is_ended_by_the_fetch_limit_of_the_call() -> None:
    loop_url = "https://app.example/poll.xml"
    h = Harness(limits=RunnerLimits(max_documents=40))
    h.app.documents[loop_url] = program(Pause(length=3), Redirect(url=loop_url))
    outcome = await h.run(Redirect(url=loop_url))
    assert isinstance(outcome, Failed)
    assert outcome.error == "more than 40 documents fetched for the call"
    assert len(h.app.requests) == 40


async def test_the_verb_guard_stops_long_programs() -> None:
    h = Harness(limits=RunnerLimits(max_verbs=5))
    outcome = await h.run(*[Pause(length=0)] * 10)
    assert isinstance(outcome, Failed)
    assert "more than 5 verbs" in outcome.error


async def test_unsupported_enqueue_fails_cleanly() -> None:
    from callbridge.callflow import Enqueue

    h = Harness()
    outcome = await h.run(Enqueue(queue="support"))
    assert isinstance(outcome, Failed)
    assert "Enqueue" in outcome.error


async def test_a_crashing_translator_is_contained() -> None:
    target = "https://app.example/crash.xml"
    h = Harness()
    h.app.documents[target] = RuntimeError("bug")
    outcome = await h.run(Redirect(url=target))
    assert isinstance(outcome, Failed)
    assert "internal error" in outcome.error
    assert h.leg.calls == [ANNOUNCED, FAILED_HANGUP]


async def test_a_runner_runs_one_program_at_a_time() -> None:
    h = Harness(leg=FakeLeg(block_on="say"))
    runner = h.runner()
    task = asyncio.create_task(runner.run(program(Say(text="hold"))))
    await asyncio.sleep(0.01)
    with pytest.raises(RuntimeError):
        await runner.run(program(Hangup()))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class FakeQueues:
    """The Queueing port: ``support`` exists and ends as ``result``; others are unknown."""

    def __init__(self, result: str) -> None:
        self.result = result
        self.asked: list[str] = []

    async def enqueue(self, leg: object, enqueue: Enqueue, *, wait: object = None) -> EnqueueResult:
        self.asked.append(enqueue.queue)
        if enqueue.queue != "support":
            raise LookupError(enqueue.queue)
        return EnqueueResult(result=self.result, queue_time=12.6)


def queue_runner(h: Harness, queues: FakeQueues) -> CallflowRunner:
    return CallflowRunner(
        leg=h.leg,
        fetcher=h.app,
        dialer=h.dialer,
        recorder=h.recorder,
        audio=FakeAudio(),
        translate=h.app.translate,
        queues=queues,
    )


async def test_enqueue_reports_its_result_to_the_action_and_an_unknown_queue_fails() -> None:
    after = "https://app.example/after.xml"
    h = Harness()
    h.app.documents[after] = program(Hangup())
    outcome = await queue_runner(h, FakeQueues("bridged")).run(
        program(Enqueue(queue="support", action=after))
    )
    assert outcome == Completed()
    assert h.app.requests == [(after, "POST", {"QueueResult": "bridged", "QueueTime": "13"})]
    assert ("answer",) not in h.leg.calls  # the queue answers, not the runner
    outcome = await queue_runner(Harness(), FakeQueues("leave")).run(program(Enqueue(queue="nope")))
    assert isinstance(outcome, Failed)
    assert "unknown queue 'nope'" in outcome.error

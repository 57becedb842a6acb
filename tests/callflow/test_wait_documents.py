"""WaitDocuments (``<Enqueue waitUrl>``): the wait document's Play/Say/Pause in a loop,
fetched again when it ends with the queue's current parameters; Redirect, Leave, Hangup;
other verbs skipped with a timeline event; a failing wait URL ends with ``failed``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callflow_fakes import FakeApp, FakeAudio, FakeLeg, FakeSleep

from callbridge.callflow import FetchError, Hangup, Pause, Play, Program, Redirect, Say, Verb
from callbridge.callflow.verbs import Dial, DialGroup, DialTarget, Leave
from callbridge.callflow.wait_documents import (
    FAILED_EVENT,
    IGNORED_EVENT,
    MAX_IDLE_DOCUMENTS,
    WaitDocuments,
)
from callbridge.dialects import parse_voice_xml
from callbridge.engine.events import EndReason

WAIT = "https://app.example/wait.xml"
OTHER = "https://app.example/other.xml"


def program(*verbs: Verb) -> Program:
    return Program(verbs=verbs, base_url=WAIT)


class Notes:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, name: str, data: Mapping[str, Any]) -> None:
        self.events.append((name, dict(data)))


def wait(leg: FakeLeg, app: FakeApp, notes: Notes, method: str = "POST") -> WaitDocuments:
    def clock() -> float:
        return sum(call[1] for call in leg.calls if call[0] == "sleep")

    return WaitDocuments(
        leg=leg,
        fetcher=app,
        translate=app.translate,
        audio=FakeAudio(),
        url=WAIT,
        method=method,
        note=notes,
        sleep=FakeSleep(leg.calls),
        clock=clock,
    )


class Position:
    """The queue's parameters: the caller moves up one place per fetch."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, str]:
        self.calls += 1
        return {"QueueSid": "sales", "QueuePosition": str(4 - self.calls)}


async def test_the_document_plays_in_a_loop_fetched_again_then_leave() -> None:
    leg, notes = FakeLeg(), Notes()
    app = FakeApp({WAIT: program(Say(text="Please hold"), Play(url="https://cdn/t.wav"))})
    documents = wait(leg, app, notes, method="GET")
    fetched = 0

    async def count_fetch(url: str, method: str, params: Mapping[str, str]) -> bytes:
        nonlocal fetched
        fetched += 1
        if fetched == 3:
            app.documents[WAIT] = program(Pause(length=2), Leave(), Say(text="never"))
        return await FakeApp.fetch(app, url, method, params)

    app.fetch = count_fetch  # type: ignore[method-assign]
    assert await documents.play(Position()) == "leave"
    assert [r[2]["QueuePosition"] for r in app.requests] == ["3", "2", "1"]
    assert {r[1] for r in app.requests} == {"GET"}
    assert leg.calls == [
        ("say", "Please hold", None),
        ("play", "https://cdn/t.wav"),
        ("sleep", 1.0),  # a document shorter than a second is not fetched again at once
        ("say", "Please hold", None),
        ("play", "https://cdn/t.wav"),
        ("sleep", 1.0),
        ("sleep", 2),
    ]
    assert notes.events == []


async def test_redirect_moves_to_another_wait_document_and_hangup_ends_the_call() -> None:
    leg, notes = FakeLeg(), Notes()
    app = FakeApp(
        {
            WAIT: program(Say(text="one"), Redirect(url=OTHER, method="GET")),
            OTHER: program(Say(text="two"), Hangup(), Say(text="never")),
        }
    )
    assert await wait(leg, app, notes).play(Position()) == "hangup"
    assert [(r[0], r[1]) for r in app.requests] == [(WAIT, "POST"), (OTHER, "GET")]
    assert leg.calls[0] == ("say", "one", None)
    assert ("say", "two", None) in leg.calls
    assert leg.calls[-1] == ("hangup", EndReason.HUNG_UP, None)


async def test_other_verbs_are_skipped_with_one_timeline_event_each() -> None:
    leg, notes = FakeLeg(), Notes()
    dial = Dial(groups=(DialGroup(targets=(DialTarget(kind="user", address="1001"),)),))
    app = FakeApp({WAIT: program(dial, Say(text="hold"), dial, Leave())})
    assert await wait(leg, app, notes).play(Position()) == "leave"
    assert notes.events == [(IGNORED_EVENT, {"verb": "Dial"})]
    assert leg.calls == [("say", "hold", None)]


async def test_a_failing_wait_url_ends_failed_with_a_timeline_event() -> None:
    for document in (FetchError("500 Internal Server Error"), None):
        leg, notes = FakeLeg(), Notes()
        app = FakeApp({} if document is None else {WAIT: document})
        assert await wait(leg, app, notes).play(Position()) == "failed"
        assert notes.events[0][0] == FAILED_EVENT
        assert notes.events[0][1]["url"] == WAIT
        assert leg.ended is None  # the caller stays: the queue's music takes over


async def test_audio_that_cannot_load_fails_and_documents_playing_nothing_fail() -> None:
    class NoAudio(FakeAudio):
        async def load(self, url: str) -> Any:
            raise FetchError("403 for the audio")

    leg, notes = FakeLeg(), Notes()
    app = FakeApp({WAIT: program(Play(url="https://cdn/t.wav"))})
    documents = wait(leg, app, notes)
    documents._audio = NoAudio()
    assert await documents.play(Position()) == "failed"
    assert "cannot load audio" in notes.events[0][1]["error"]

    leg, notes = FakeLeg(), Notes()
    app = FakeApp({WAIT: program(Pause(length=0))})
    assert await wait(leg, app, notes).play(Position()) == "failed"
    assert len(app.requests) == MAX_IDLE_DOCUMENTS
    assert "played nothing" in notes.events[0][1]["error"]


async def test_a_leg_that_ends_ends_the_wait() -> None:
    leg, notes = FakeLeg(), Notes()
    app = FakeApp({WAIT: program(Say(text="hold"))})
    documents = wait(leg, app, notes)

    async def hang_up_on_say(text: str, voice: str | None = None) -> bool:
        leg.remote_hangup()
        return False

    leg.say = hang_up_on_say  # type: ignore[method-assign]
    assert await documents.play(Position()) == "hangup"
    assert notes.events == []


async def test_hostile_xml_in_a_wait_document_fails_without_expanding() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><Response><Say>&b;</Say></Response>'
    )

    class Hostile:
        async def fetch(self, url: str, method: str, params: Mapping[str, str]) -> bytes:
            return bomb

    leg, notes = FakeLeg(), Notes()
    documents = WaitDocuments(
        leg=leg,
        fetcher=Hostile(),
        translate=parse_voice_xml,
        audio=FakeAudio(),
        url=WAIT,
        note=notes,
        sleep=FakeSleep(leg.calls),
    )
    assert await documents.play(Position()) == "failed"
    assert "forbidden XML" in notes.events[0][1]["error"]
    assert leg.calls == []

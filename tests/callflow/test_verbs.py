"""Verb validation: nonsense raises InvalidVerb."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from callbridge.callflow import (
    Dial,
    DialGroup,
    DialTarget,
    Enqueue,
    Gather,
    InvalidVerb,
    Pause,
    Play,
    Program,
    Record,
    Redirect,
    Reject,
    Say,
    SendDigits,
)

NUMBER = DialTarget(kind="number", address="+19499300360")


def test_defaults_follow_twiml() -> None:
    assert Gather() == Gather(num_digits=None, timeout=5, finish_on_key="#", method="POST")
    assert Record().finish_on_key == "1234567890*#"
    assert DialGroup(targets=(NUMBER,)).ring_timeout == 30
    assert Reject().reason == "rejected"


def test_valid_targets() -> None:
    DialTarget(kind="sip", address="sip:alice@example.com", send_digits="ww12#")
    DialTarget(kind="user", address="alice.smith")
    DialTarget(kind="number", address="*97")


@pytest.mark.parametrize(
    "build",
    [
        lambda: Say(text="  "),
        lambda: Say(text="x" * 5000),
        lambda: Say(text="hi", loop=-1),
        lambda: Say(text="hi", voice=""),
        lambda: Play(url="", loop=1),
        lambda: Play(url="https://a/b", loop=1001),
        lambda: Pause(length=-1),
        lambda: Pause(length=float("nan")),
        lambda: SendDigits(digits=""),
        lambda: SendDigits(digits="12x"),
        lambda: Gather(num_digits=0),
        lambda: Gather(timeout=0),
        lambda: Gather(finish_on_key="x"),
        lambda: Gather(method="PUT"),
        lambda: Gather(prompts=(Redirect(url="https://a/"),)),  # type: ignore[arg-type]
        lambda: DialTarget(kind="number", address="call me"),
        lambda: DialTarget(kind="sip", address="alice@example.com"),
        lambda: DialTarget(kind="user", address="a b"),
        lambda: DialTarget(kind="fax", address="1"),  # type: ignore[arg-type]
        lambda: DialTarget(kind="number", address="1", send_digits="12x"),
        lambda: DialGroup(targets=()),
        lambda: DialGroup(targets=(NUMBER,), ring_timeout=0),
        lambda: Dial(groups=()),
        lambda: Dial(groups=(DialGroup(targets=(NUMBER,)),), time_limit=-5),
        lambda: Enqueue(queue=""),
        lambda: Record(max_length=0),
        lambda: Record(timeout=-1),
        lambda: Redirect(url="https://a/", method="DELETE"),
        lambda: Reject(reason="maybe"),  # type: ignore[arg-type]
        lambda: Program(verbs=("Say",), base_url="https://a/"),  # type: ignore[arg-type]
    ],
)
def test_nonsense_is_refused(build: Callable[[], object]) -> None:
    with pytest.raises(InvalidVerb):
        build()


def test_verbs_are_frozen_and_keyword_only() -> None:
    say = Say(text="hi")
    with pytest.raises(AttributeError):
        say.text = "bye"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Say("hi")  # type: ignore[call-arg]

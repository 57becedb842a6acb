"""The two-leg callback API's JSON read into a ``CallbackRequest`` (no HTTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from callbridge.calls.request import (
    Announcement,
    CallbackMode,
    CallbackRequest,
    LegName,
    LegSpec,
    StatusCallback,
)
from callbridge.dialects.callback_request import parse_callback, read_callback_document
from callbridge.dialects.errors import InvalidRequest
from callbridge.webhooks.params import CallbackEvent

HOOK = "https://app.example.com/events"
WAV = "https://app.example.com/hello.wav"
SEED = {
    "leg_A": {"to": "1000123", "from": "1000125"},
    "leg_B": {"to": "1000125", "from": "1000123"},
}


def parse(document: dict[str, Any] | str) -> CallbackRequest:
    body = document if isinstance(document, str) else json.dumps(document)
    return parse_callback(read_callback_document(body.encode()), api_key_id="key_1").value


def refused(document: dict[str, Any] | str) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as caught:
        parse(document)
    return dict(caught.value.fields)


def with_leg_a(**fields: Any) -> dict[str, Any]:
    return {**SEED, "leg_A": {**SEED["leg_A"], **fields}}


def test_the_seed_example_with_defaults() -> None:
    assert parse(SEED) == CallbackRequest(
        api_key_id="key_1",
        leg_a=LegSpec(to="1000123", from_="1000125", ring_timeout=60.0),
        leg_b=LegSpec(to="1000125", from_="1000123", ring_timeout=60.0),
        mode=CallbackMode.SEQUENTIAL,
        first=LegName.A,
        failure_announce=None,
    )


def test_every_leg_field() -> None:
    request = parse(
        with_leg_a(
            caller_name="Support",
            trunk="carrier-2",
            timeout=25,
            headers={"X-Campaign": "spring", "User-to-User": "abc;encoding=hex"},
            announce="Hello, connecting you now",
            voice="en-us+f3",
            status_callback=HOOK,
            status_callback_event=["initiated", "answered", "completed"],
            status_callback_method="get",
            secret_key="s3cret",
            optional="token=1",
        )
    )
    assert request.leg_a == LegSpec(
        to="1000123",
        from_="1000125",
        caller_name="Support",
        trunk="carrier-2",
        ring_timeout=25.0,
        headers=(("X-Campaign", "spring"), ("User-to-User", "abc;encoding=hex")),
        announce=Announcement(text="Hello, connecting you now", voice="en-us+f3"),
        status_callback=StatusCallback(
            url=HOOK,
            method="GET",
            events=(CallbackEvent.INITIATED, CallbackEvent.ANSWERED, CallbackEvent.COMPLETED),
            secret_key="s3cret",
            optional="token=1",
        ),
    )


def test_each_legs_own_application_digits_and_recording() -> None:
    """seed-000's "more attributes ... for each leg": the outbound API's url, senddigits
    and record, under its spellings too."""
    app = "https://app.example.com/whisper.xml"
    request = parse(
        {
            "leg_A": {**SEED["leg_A"], "url": app, "method": "get", "record": True},
            "leg_B": {**SEED["leg_B"], "sendDigits": "WW1w23#", "Record": "false"},
        }
    )
    assert (request.leg_a.url, request.leg_a.method, request.leg_a.record) == (app, "GET", True)
    assert request.leg_a.send_digits is None
    assert (request.leg_b.url, request.leg_b.send_digits, request.leg_b.record) == (
        None,
        "WW1w23#",
        False,
    )
    assert parse(with_leg_a(url=app)).leg_a.method == "POST"


def test_a_method_without_url_is_a_warning() -> None:
    body = with_leg_a(method="GET")
    asked = parse_callback(read_callback_document(json.dumps(body).encode()), api_key_id="k")
    assert asked.value.leg_a.url is None
    assert dict(asked.warnings) == {
        "leg_A.method": "had no effect: it is the method of url, which was not given"
    }


def test_the_outbound_apis_spellings_and_any_case_are_accepted() -> None:
    request = parse(
        {
            "LegA": {
                "TO": 1000123,
                "From": "+1000125",
                "callerName": "Desk",
                "statusCallback": HOOK,
                "statusCallbackEvent": "ringing completed",
                "secretKey": "k",
            },
            "LEG-B": {"to": "sip:agent@example.com", "from": "1000123"},
            "Mode": "Simultaneous",
        }
    )
    assert (request.leg_a.to, request.leg_a.from_, request.leg_a.caller_name) == (
        "1000123",
        "+1000125",
        "Desk",
    )
    assert request.leg_a.status_callback == StatusCallback(
        url=HOOK, events=(CallbackEvent.RINGING, CallbackEvent.COMPLETED), secret_key="k"
    )
    assert request.leg_b.to == "sip:agent@example.com"
    assert request.mode is CallbackMode.SIMULTANEOUS


@pytest.mark.parametrize(
    ("announce", "expected"),
    [
        ({"text": "Hi", "voice": "en"}, Announcement(text="Hi", voice="en")),
        ({"url": WAV}, Announcement(url=WAV)),
        ("  Hi  ", Announcement(text="Hi")),
    ],
)
def test_announcements(announce: object, expected: Announcement) -> None:
    assert parse(with_leg_a(announce=announce)).leg_a.announce == expected
    assert parse({**SEED, "failure_announce": announce}).failure_announce == expected


@pytest.mark.parametrize(("timeout", "seconds"), [(5, 5.0), (30.5, 30.5), ("600", 600.0)])
def test_ring_timeouts(timeout: object, seconds: float) -> None:
    assert parse(with_leg_a(timeout=timeout)).leg_a.ring_timeout == seconds


@pytest.mark.parametrize("first", ["B", "b", "leg_B"])
def test_first_leg_of_a_sequential_callback(first: str) -> None:
    assert parse({**SEED, "first": first}).first is LegName.B


def test_apikey_and_blank_or_null_fields_are_accepted() -> None:
    request = parse({**SEED, "apikey": "cbk_x", "mode": "", "failure_announce": None})
    assert (request.mode, request.failure_announce) == (CallbackMode.SEQUENTIAL, None)


def test_missing_legs_and_their_fields_are_named() -> None:
    assert set(refused({})) == {"leg_A", "leg_B"}
    fields = refused({"leg_A": {}, "leg_B": "1000125"})
    assert set(fields) == {"leg_A.to", "leg_A.from", "leg_B"}
    assert "JSON object" in fields["leg_B"]


def test_every_refused_field_is_named_at_once() -> None:
    fields = refused(
        {
            "leg_A": {
                "to": "not a number!",
                "from": "1000125",
                "timeout": 1,
                "trunk": "bad trunk",
                "caller_name": 'a "quoted" name',
                "headers": {"Via": "SIP/2.0/UDP evil", "X-Ok": "fine"},
                "status_callback_event": "hangup",
            },
            "leg_B": {"to": "1000125", "from": "1000123", "colour": "blue"},
            "mode": "parallel",
            "extra": 1,
        }
    )
    assert set(fields) == {
        "leg_A.to",
        "leg_A.timeout",
        "leg_A.trunk",
        "leg_A.caller_name",
        "leg_A.headers.Via",
        "leg_A.status_callback_event",
        "mode",
    }
    assert "unknown event" in fields["leg_A.status_callback_event"]


def test_unknown_fields_and_options_without_effect_are_warnings() -> None:
    body = {
        "leg_A": {"to": "1000123", "from": "1000125", "colour": "blue", "secret_key": "k"},
        "leg_B": {
            "to": "1000125",
            "from": "1000123",
            "announce": {"text": "Hi", "lang": "en"},
        },
        "extra": 1,
    }
    asked = parse_callback(read_callback_document(json.dumps(body).encode()), api_key_id="k")
    assert asked.value.leg_a.to == "1000123"
    assert asked.value.leg_a.status_callback is None
    assert dict(asked.warnings) == {
        "leg_A.colour": "is not a field of this API and was ignored",
        "leg_A.secret_key": "had no effect: it needs status_callback, the URL events are sent to",
        "leg_B.announce.lang": "is not a field of this API and was ignored",
        "extra": "is not a field of this API and was ignored",
    }


@pytest.mark.parametrize(
    ("fields", "label"),
    [
        ({"timeout": True}, "leg_A.timeout"),
        ({"timeout": 601}, "leg_A.timeout"),
        ({"timeout": 1e9}, "leg_A.timeout"),
        ({"to": 10.5}, "leg_A.to"),
        ({"headers": ["X-A"]}, "leg_A.headers"),
        ({"headers": {"X-A": "one\r\nVia: x"}}, "leg_A.headers.X-A"),
        ({"headers": {"X-A": 1}}, "leg_A.headers.X-A"),
        ({"headers": {f"X-H{n}": "v" for n in range(17)}}, "leg_A.headers"),
        ({"announce": {"text": "Hi", "url": WAV}}, "leg_A.announce.url"),
        ({"announce": {}}, "leg_A.announce"),
        ({"announce": {"url": WAV, "voice": "en"}}, "leg_A.announce.voice"),
        ({"announce": {"url": "ftp://example.com/a.wav"}}, "leg_A.announce.url"),
        ({"announce": "x" * 1001}, "leg_A.announce"),
        ({"announce": 7}, "leg_A.announce"),
        ({"voice": "en"}, "leg_A.voice"),
        ({"voice": "en us", "announce": "Hi"}, "leg_A.voice"),
        ({"status_callback": "not-a-url"}, "leg_A.status_callback"),
        ({"status_callback": HOOK, "status_callback_event": [1]}, "leg_A.status_callback_event"),
        (
            {"status_callback": HOOK, "status_callback_method": "PUT"},
            "leg_A.status_callback_method",
        ),
        ({"from": "1000125\u0000"}, "leg_A.from"),
        ({"url": "ftp://app.example.com/a.xml"}, "leg_A.url"),
        ({"url": "https://app.example.com/a.xml", "method": "PUT"}, "leg_A.method"),
        ({"senddigits": "12x"}, "leg_A.send_digits"),
        ({"senddigits": "1" * 129}, "leg_A.send_digits"),
        ({"record": "yes"}, "leg_A.record"),
        ({"record": 1}, "leg_A.record"),
    ],
)
def test_refused_leg_fields(fields: dict[str, Any], label: str) -> None:
    assert label in refused(with_leg_a(**fields))


def test_a_field_given_twice_under_two_spellings_is_refused() -> None:
    fields = refused({**SEED, "legA": SEED["leg_A"]})
    assert fields == {"leg_A": "give it once"}


def test_first_is_for_sequential_mode_only_and_must_name_a_leg() -> None:
    assert "first" in refused({**SEED, "mode": "simultaneous", "first": "A"})
    assert "first" in refused({**SEED, "first": "C"})


@pytest.mark.parametrize("body", ["[]", "not json", '{"leg_A": NaN}', '"text"', "{" * 100_000])
def test_a_body_that_is_no_json_object_is_refused(body: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        read_callback_document(body.encode())
    assert caught.value.fields == {}


def test_the_apikey_field_is_offered_to_authentication() -> None:
    document = read_callback_document(json.dumps({**SEED, "apikey": "cbk_x"}).encode())
    assert document.scalar_fields().get("apikey") == ("cbk_x",)

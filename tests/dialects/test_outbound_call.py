"""The outbound call API's fields read into call-service values (no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callbridge.calls.request import OutboundCallRequest, StatusCallback
from callbridge.dialects.errors import InvalidRequest
from callbridge.dialects.fields import Fields
from callbridge.dialects.outbound_call import (
    DEFAULT_PAGE,
    CallQuery,
    HangUpCall,
    RedirectCall,
    parse_call_query,
    parse_call_update,
    parse_events,
    parse_outbound_call,
)
from callbridge.store.records import CallFilters, Cursor
from callbridge.webhooks.params import CallbackEvent

HELLO = "http://www.didforsale.com/apidemo/hello-world.php"
HOOK = "http://www.didforsale.com/apidemo/event.php"


def call(**fields: str | list[str]) -> OutboundCallRequest:
    pairs = [
        (name, v)
        for name, value in fields.items()
        for v in (value if isinstance(value, list) else [value])
    ]
    return parse_outbound_call(Fields.of(pairs), api_key_id="key_1").value


def refused(**fields: str | list[str]) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as caught:
        call(**fields)
    return dict(caught.value.fields)


def test_the_seed_example_with_defaults() -> None:
    assert call(**{"from": "19499300360", "to": "18005797676", "url": HELLO}) == (
        OutboundCallRequest(
            api_key_id="key_1",
            to="18005797676",
            from_="19499300360",
            url=HELLO,
            method="POST",
            ring_timeout=60.0,
            record=False,
        )
    )


def test_status_callback_with_defaults_and_options() -> None:
    request = call(
        **{"from": "1001", "to": "1002", "statusCallback": HOOK, "secretKey": "k", "optional": "t"}
    )
    assert request.status_callback == StatusCallback(
        url=HOOK, method="POST", events=(CallbackEvent.COMPLETED,), secret_key="k", optional="t"
    )


@pytest.mark.parametrize(
    ("values", "events"),
    [
        (["completed"], ("completed",)),
        (["answered", "initiated"], ("initiated", "answered")),
        (["ringing answered"], ("ringing", "answered")),
        (["ringing,answered", "ringing"], ("ringing", "answered")),
        (["  Initiated ,\tCOMPLETED  "], ("initiated", "completed")),
    ],
)
def test_events_parse_in_lifecycle_order(values: list[str], events: tuple[str, ...]) -> None:
    assert tuple(e.value for e in parse_events(tuple(values))) == events


def test_events_alias_statuscallbackevents() -> None:
    request = call(
        **{"from": "1", "to": "2", "statusCallback": HOOK, "statusCallbackEvents": "ringing"}
    )
    assert request.status_callback is not None
    assert request.status_callback.events == (CallbackEvent.RINGING,)


@pytest.mark.parametrize(
    "address",
    [
        "19499300360",
        "+19499300360",
        "1001",
        "agent.smith",
        "sip:alice@example.com",
        "sips:alice@example.com:5061;transport=tls",
        "sip:192.0.2.1",
        "sip:+1555@[2001:db8::1]:5060",
    ],
)
def test_addresses_accepted(address: str) -> None:
    assert call(**{"from": address, "to": address}).to == address


@pytest.mark.parametrize(
    "address",
    ["+1 555 0100", "1001!", "sip:", "sip:a@", "sip:a b@host", "sip:a@host:0", "x" * 65, "<1001>"],
)
def test_addresses_refused(address: str) -> None:
    assert set(refused(**{"from": "1001", "to": address})) == {"to"}


def test_blank_values_are_absent_and_repeats_must_agree() -> None:
    request = call(**{"from": "1001", "to": ["1002", "1002"], "url": "", "record": " "})
    assert (request.to, request.url, request.record) == ("1002", None, False)
    assert "give it once" in refused(**{"from": "1001", "to": ["1002", "1003"]})["to"]


def test_from_is_always_required_and_says_why() -> None:
    assert "click to call" in refused(to="1002")["from"]
    without = refused(to="1002", url=HELLO)["from"]
    assert "caller ID" in without
    assert "click to call" not in without


@pytest.mark.parametrize(
    ("value", "seconds"), [("5", 5.0), ("30", 30.0), ("45.5", 45.5), ("600", 600.0)]
)
def test_ring_timeout(value: str, seconds: float) -> None:
    assert call(**{"from": "1", "to": "2", "timeout": value}).ring_timeout == seconds


@pytest.mark.parametrize("value", ["4", "601", "-5", "1e3", "nan", "٣٠"])
def test_ring_timeout_refused(value: str) -> None:
    assert "timeout" in refused(**{"from": "1", "to": "2", "timeout": value})


def test_caller_name_and_record() -> None:
    request = call(**{"from": "1", "to": "2", "callerName": "Acme Support", "record": "TRUE"})
    assert (request.caller_name, request.record) == ("Acme Support", True)
    assert "callerName" in refused(**{"from": "1", "to": "2", "callerName": "x" * 65})


def test_send_digits_accepts_waits_and_refuses_others() -> None:
    assert call(**{"from": "1", "to": "2", "sendDigits": "WWWW101*#w9"}).send_digits == (
        "WWWW101*#w9"
    )
    for bad in ("A", "1 2", "1,2", "p"):
        assert "sendDigits" in refused(**{"from": "1", "to": "2", "senddigits": bad})


def test_unknown_fields_are_ignored() -> None:
    assert call(**{"from": "1", "to": "2", "apikey": "k", "Foo": "bar"}).to == "2"


def test_updates() -> None:
    assert parse_call_update(Fields.of([("STATUS", "completed")])) == HangUpCall()
    assert parse_call_update(Fields.of([("status", "canceled")])) == HangUpCall()
    assert parse_call_update(Fields.of([("url", HELLO)])) == RedirectCall(url=HELLO)
    assert parse_call_update(Fields.of([("Url", HELLO), ("method", "get")])) == RedirectCall(
        url=HELLO, method="GET"
    )
    with pytest.raises(InvalidRequest, match="Status=completed"):
        parse_call_update(Fields.of([]))


def test_query_defaults_and_filters() -> None:
    assert parse_call_query(Fields.of([]), api_key_id="k") == CallQuery(
        filters=CallFilters(api_key_id="k"), cursor=None, limit=DEFAULT_PAGE
    )
    cursor = Cursor(created_at=datetime(2025, 1, 1, tzinfo=UTC), sid="CA9")
    query = parse_call_query(
        Fields.of(
            [
                ("Status", "No-Answer"),
                ("direction", "OUTBOUND"),
                ("from", "1001"),
                ("to", "1002"),
                ("parent", "CA1"),
                ("callId", "AB" * 32),
                ("limit", "10"),
                ("cursor", cursor.encode()),
            ]
        ),
        api_key_id="k",
    )
    assert query == CallQuery(
        filters=CallFilters(
            api_key_id="k",
            status="no-answer",
            direction="outbound",
            from_="1001",
            to="1002",
            parent_sid="CA1",
            call_id="ab" * 32,
        ),
        cursor=cursor,
        limit=10,
    )


@pytest.mark.parametrize("value", ["abc", "g" * 64, "a" * 65, "' OR 1=1 --"])
def test_a_call_id_filter_is_64_hex_characters(value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_call_query(Fields.of([("call_id", value)]), api_key_id="k")
    assert "64 hexadecimal" in caught.value.fields["call_id"]
    assert value not in caught.value.fields["call_id"]

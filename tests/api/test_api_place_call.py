"""POST /api/v2/calls: form and JSON bodies, the seed's fields in any case, every refusal
with its field messages, and the call limits."""

from __future__ import annotations

import httpx
import pytest
from api_fakes import FakeCalls, Keys, form

from callbridge.calls.errors import CallLimitReached, ServerDraining, ServerOverloaded
from callbridge.calls.request import OutboundCallRequest, StatusCallback
from callbridge.webhooks.params import CallbackEvent

HELLO = "http://www.didforsale.com/apidemo/hello-world.php"
EVENTS = "http://www.didforsale.com/apidemo/event.php"


async def place(client: httpx.AsyncClient, **kwargs: object) -> httpx.Response:
    return await client.post("/api/v2/calls", **kwargs)  # type: ignore[arg-type]


def error_of(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"id", "message", "fields"}
    return body["error"]  # type: ignore[no-any-return]


async def test_form_body_places_the_seed_example(
    client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys
) -> None:
    response = await place(client, data={"from": "19499300360", "to": "18005797676", "url": HELLO})
    assert response.status_code == 201
    body = response.json()
    sid = body["CallSid"]
    assert body["status"] == "queued"
    assert body["link"] == f"/api/v2/calls/{sid}"
    assert response.headers["location"] == f"/api/v2/calls/{sid}"
    assert (body["from"], body["to"], body["url"], body["Method"]) == (
        "19499300360",
        "18005797676",
        HELLO,
        "POST",
    )
    assert fake_calls.placed == [
        OutboundCallRequest(
            api_key_id=keys.main.id, to="18005797676", from_="19499300360", url=HELLO
        )
    ]


async def test_json_body_with_every_field(
    client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys
) -> None:
    response = await place(
        client,
        json={
            "from": "+19499300360",
            "to": "sip:alice@example.com",
            "url": HELLO,
            "Method": "get",
            "sendDigits": "WWWW101#",
            "statusCallback": EVENTS,
            "statusCallbackEvent": ["initiated", "completed"],
            "statusCallbackMethod": "GET",
            "secretKey": "proviateapikey",
            "optional": "token=123456",
            "timeout": 30,
            "record": True,
            "callerName": "Support",
        },
    )
    assert response.status_code == 201, response.text
    assert "secretKey" not in response.json()
    assert fake_calls.placed == [
        OutboundCallRequest(
            api_key_id=keys.main.id,
            to="sip:alice@example.com",
            from_="+19499300360",
            caller_name="Support",
            url=HELLO,
            method="GET",
            send_digits="WWWW101#",
            status_callback=StatusCallback(
                url=EVENTS,
                method="GET",
                events=(CallbackEvent.INITIATED, CallbackEvent.COMPLETED),
                secret_key="proviateapikey",
                optional="token=123456",
            ),
            ring_timeout=30.0,
            record=True,
        )
    ]


@pytest.mark.parametrize("digits_name", ["senddigits", "sendDigits", "SENDDIGITS"])
async def test_field_names_are_case_insensitive(
    client: httpx.AsyncClient, fake_calls: FakeCalls, digits_name: str
) -> None:
    response = await place(
        client,
        data={
            "From": "1001",
            "TO": "19499300360",
            "URL": HELLO,
            "METHOD": "GET",
            digits_name: "1w2",
            "StatusCallback": EVENTS,
        },
    )
    assert response.status_code == 201, response.text
    placed = fake_calls.placed[0]
    assert (placed.from_, placed.method, placed.send_digits) == ("1001", "GET", "1w2")
    assert placed.status_callback == StatusCallback(url=EVENTS)


@pytest.mark.parametrize(
    "events",
    [
        [("statusCallbackEvent", "initiated"), ("statusCallbackEvent", "ringing")],
        [("statusCallbackEvent", "initiated ringing")],
        [("statusCallbackEvent", "ringing,initiated")],
        [("StatusCallbackEvent", "Initiated, RINGING"), ("statusCallbackEvent", "ringing")],
    ],
)
async def test_status_callback_events_repeated_or_separated(
    client: httpx.AsyncClient, fake_calls: FakeCalls, events: list[tuple[str, str]]
) -> None:
    fields = [("from", "1001"), ("to", "1002"), ("statusCallback", EVENTS), *events]
    response = await place(client, **form(fields))
    assert response.status_code == 201, response.text
    callback = fake_calls.placed[0].status_callback
    assert callback is not None
    assert callback.events == (CallbackEvent.INITIATED, CallbackEvent.RINGING)
    assert response.json()["statusCallbackEvent"] == ["initiated", "ringing"]


async def test_click_to_call_without_url(client: httpx.AsyncClient, fake_calls: FakeCalls) -> None:
    response = await place(client, data={"from": "1001", "to": "19499300360"})
    assert response.status_code == 201
    placed = fake_calls.placed[0]
    assert (placed.url, placed.from_) == (None, "1001")


BAD_FIELDS: list[tuple[dict[str, object], str, str]] = [
    ({"from": "1001"}, "to", "is required"),
    ({"from": "1001", "to": "  "}, "to", "is required"),
    ({"from": "1001", "to": "+1 949 930"}, "to", "must be a number"),
    ({"from": "1001", "to": "sip:"}, "to", "not a valid SIP URI"),
    ({"from": "1001", "to": "sip:bob@exa mple.com"}, "to", "not a valid SIP URI"),
    ({"from": "1001", "to": "sip:bob@example.com:70000"}, "to", "not a valid SIP URI"),
    ({"from": "1001", "to": ["1002", "1003"]}, "to", "give it once"),
    ({"from": "1001", "to": "10\n02"}, "to", "control characters"),
    ({"to": "1002"}, "from", "click to call"),
    ({"to": "1002", "url": HELLO}, "from", "caller ID"),
    ({"from": "bad number!", "to": "1002"}, "from", "must be a number"),
    ({"from": "1001", "to": "1002", "url": "/relative.xml"}, "url", "absolute http"),
    ({"from": "1001", "to": "1002", "url": "ftp://example.com/a"}, "url", "absolute http"),
    ({"from": "1001", "to": "1002", "url": "http://exa mple.com/"}, "url", "spaces"),
    ({"from": "1001", "to": "1002", "Method": "PUT"}, "Method", "GET or POST"),
    ({"from": "1001", "to": "1002", "sendDigits": "12a"}, "sendDigits", "0-9"),
    ({"from": "1001", "to": "1002", "senddigits": "1" * 129}, "sendDigits", "up to 128"),
    ({"from": "1001", "to": "1002", "timeout": "2"}, "timeout", "from 5 to 600"),
    ({"from": "1001", "to": "1002", "timeout": "ten"}, "timeout", "seconds to ring"),
    ({"from": "1001", "to": "1002", "record": "yes"}, "record", "true or false"),
    ({"from": "1001", "to": "1002", "callerName": 'a"b'}, "callerName", "without"),
    ({"from": "1001", "to": "1002", "statusCallback": "x"}, "statusCallback", "absolute"),
    (
        {"from": "1001", "to": "1002", "statusCallback": EVENTS, "statusCallbackEvent": "hangup"},
        "statusCallbackEvent",
        "unknown event(s) hangup",
    ),
    (
        {"from": "1001", "to": "1002", "statusCallback": EVENTS, "statusCallbackEvent": ","},
        "statusCallbackEvent",
        "give one or more",
    ),
    (
        {"from": "1001", "to": "1002", "statusCallback": EVENTS, "statusCallbackMethod": "x"},
        "statusCallbackMethod",
        "GET or POST",
    ),
    (
        {"from": "1001", "to": "1002", "statusCallback": EVENTS, "secretKey": "k" * 201},
        "secretKey",
        "at most 200",
    ),
]


@pytest.mark.parametrize(("fields", "name", "message"), BAD_FIELDS)
async def test_each_invalid_field_is_named(
    client: httpx.AsyncClient,
    fake_calls: FakeCalls,
    fields: dict[str, object],
    name: str,
    message: str,
) -> None:
    response = await place(client, data=fields)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["id"] == "invalid_request"
    messages = error["fields"]
    assert isinstance(messages, dict)
    assert name in messages, messages
    assert message in messages[name]
    assert fake_calls.placed == []


async def test_every_invalid_field_is_named_at_once(client: httpx.AsyncClient) -> None:
    response = await place(client, json={"url": "nope", "Method": "PUT", "record": "maybe"})
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"to", "from", "url", "Method", "record"}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"{not json", "application/json", "not valid JSON"),
        (b"[1, 2]", "application/json", "must be an object"),
        (b'{"to": {"a": 1}}', "application/json", "wrong type"),
        (b'{"to": NaN}', "application/json", "not valid JSON"),
        (b"to=%ff", "application/x-www-form-urlencoded", "not UTF-8"),
    ],
)
async def test_undecodable_bodies_are_400(
    client: httpx.AsyncClient, body: bytes, content_type: str, message: str
) -> None:
    response = await place(client, content=body, headers={"content-type": content_type})
    assert response.status_code == 400
    assert message in str(error_of(response)["message"])


async def test_other_media_types_are_415(client: httpx.AsyncClient) -> None:
    response = await place(client, content=b"to=1002", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert error_of(response)["id"] == "unsupported_media_type"


async def test_an_overloaded_server_is_503_with_retry_after(
    client: httpx.AsyncClient, fake_calls: FakeCalls
) -> None:
    fake_calls.refuse = ServerOverloaded("the server is overloaded", retry_after=1.0)
    response = await place(client, data={"from": "1001", "to": "1002"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    error = error_of(response)
    assert (error["id"], error["message"]) == ("server_overloaded", "the server is overloaded")
    assert fake_calls.placed == []


async def test_a_draining_server_is_503_with_retry_after(
    client: httpx.AsyncClient, fake_calls: FakeCalls
) -> None:
    fake_calls.refuse = ServerDraining("shutting down", retry_after=30.0)
    response = await place(client, data={"from": "1001", "to": "1002"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert error_of(response)["id"] == "server_draining"


async def test_limit_reached_is_429_with_retry_after(
    client: httpx.AsyncClient, fake_calls: FakeCalls
) -> None:
    fake_calls.refuse = CallLimitReached("at most 2 calls per second", retry_after=0.2)
    response = await place(client, data={"from": "1001", "to": "1002"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    error = error_of(response)
    assert (error["id"], error["message"]) == ("call_limit_reached", "at most 2 calls per second")
    fake_calls.refuse = CallLimitReached("at most 5 concurrent calls", retry_after=2.5)
    response = await place(client, data={"from": "1001", "to": "1002"})
    assert response.headers["retry-after"] == "3"

"""POST and GET /voice/call/callback: the seed's JSON, the API key, field-by-field 400s,
limits, and the callback with both legs."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from api_fakes import KEY, OTHER_KEY, T0, Keys, call_record
from callback_fakes import FakeCallbacks, detail_of

from callbridge.calls.callback_state import CallbackDetail
from callbridge.calls.errors import CallLimitReached, ServerOverloaded
from callbridge.calls.request import (
    Announcement,
    CallbackMode,
    CallbackRequest,
    LegName,
    LegSpec,
)
from callbridge.store.records import CallEventRecord, DeliveryRecord

URL = "/voice/call/callback"
SEED = {
    "leg_A": {"to": "1000123", "from": "1000125"},
    "leg_B": {"to": "1000125", "from": "1000123"},
}


def anonymous(client: httpx.AsyncClient) -> httpx.AsyncClient:
    client.headers.pop("apikey", None)
    return client


def error_of(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]


async def test_the_seed_example_is_placed_with_the_ids_of_the_callback_and_both_legs(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks, keys: Keys
) -> None:
    response = await client.post(URL, json=SEED)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "queued"
    assert (body["mode"], body["first"]) == ("sequential", "A")
    assert body["id"] == body["leg_A"]["CallSid"]
    assert body["leg_B"]["ParentCallSid"] == body["id"]
    assert (body["leg_A"]["to"], body["leg_A"]["from"]) == ("1000123", "1000125")
    assert (body["leg_B"]["to"], body["leg_B"]["from"]) == ("1000125", "1000123")
    assert body["link"] == f"{URL}/{body['id']}"
    assert response.headers["location"] == body["link"]
    assert fake_callbacks.placed == [
        CallbackRequest(
            api_key_id=keys.main.id,
            leg_a=LegSpec(to="1000123", from_="1000125"),
            leg_b=LegSpec(to="1000125", from_="1000123"),
        )
    ]


async def test_options_reach_the_service(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks
) -> None:
    document = {
        **SEED,
        "leg_B": {**SEED["leg_B"], "announce": {"url": "https://h.example/a.wav"}},
        "first": "B",
        "failure_announce": "Sorry",
    }
    response = await client.post(URL, json=document)
    assert response.status_code == 201, response.text
    (placed,) = fake_callbacks.placed
    assert placed.first is LegName.B
    assert placed.mode is CallbackMode.SEQUENTIAL
    assert placed.leg_b.announce == Announcement(url="https://h.example/a.wav")
    assert placed.failure_announce == Announcement(text="Sorry")


async def test_the_seed_example_with_each_legs_own_attributes(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks
) -> None:
    """seed-000: "you can use more attributes ... for each call leg": the outbound API's
    url, senddigits and record (its spellings), and a field no API knows is a warning."""
    document = {
        "leg_A": {**SEED["leg_A"], "url": "https://app.example/whisper.xml", "Method": "GET"},
        "leg_B": {**SEED["leg_B"], "sendDigits": "WW101", "record": "true", "colour": "red"},
    }
    response = await client.post(URL, json=document)
    assert response.status_code == 201, response.text
    assert response.json()["warnings"] == [
        {"field": "leg_B.colour", "message": "is not a field of this API and was ignored"}
    ]
    (placed,) = fake_callbacks.placed
    assert (placed.leg_a.url, placed.leg_a.method) == ("https://app.example/whisper.xml", "GET")
    assert (placed.leg_b.send_digits, placed.leg_b.record) == ("WW101", True)


async def test_bad_per_leg_attributes_are_named_and_nothing_is_placed(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks
) -> None:
    document = {
        "leg_A": {**SEED["leg_A"], "url": "file:///etc/passwd"},
        "leg_B": {**SEED["leg_B"], "senddigits": "1;BYE", "record": "maybe"},
    }
    response = await client.post(URL, json=document)
    assert response.status_code == 400, response.text
    fields = error_of(response)["fields"]
    assert set(fields) == {"leg_A.url", "leg_B.send_digits", "leg_B.record"}  # type: ignore[arg-type]
    assert fake_callbacks.placed == []


async def test_the_key_may_be_a_body_field_and_a_json_body_sent_as_a_form_is_read(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks, keys: Keys
) -> None:
    response = await anonymous(client).post(
        URL,
        content=json.dumps({**SEED, "apikey": KEY}).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},  # curl -d
    )
    assert response.status_code == 201, response.text
    assert fake_callbacks.placed[0].api_key_id == keys.main.id


async def test_without_a_valid_key_nothing_is_placed(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks
) -> None:
    missing = await anonymous(client).post(URL, json=SEED)
    assert missing.status_code == 401
    assert error_of(missing)["id"] == "api_key_missing"
    wrong = await client.post(URL, json=SEED, headers={"apikey": "cbk_wrong_0123456789"})
    assert wrong.status_code == 401
    bad_body = await client.post(
        URL, content=b"{", headers={"apikey": "cbk_wrong_0123456789", "content-type": "x/json"}
    )
    assert bad_body.status_code == 401, "a bad key is told before a bad body"
    assert fake_callbacks.placed == []


async def test_invalid_fields_are_named(client: httpx.AsyncClient) -> None:
    response = await client.post(
        URL, json={"leg_A": {"to": "1000123", "timeout": 2}, "mode": "both"}
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["id"] == "invalid_request"
    assert set(error["fields"]) == {"leg_A.from", "leg_A.timeout", "leg_B", "mode"}  # type: ignore[arg-type]


@pytest.mark.parametrize("body", [b"[]", b"{", b"\xff"])
async def test_bodies_that_are_no_json_object_are_400(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await client.post(URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert error_of(response)["id"] == "invalid_request"


async def test_an_empty_body_names_both_legs(client: httpx.AsyncClient) -> None:
    response = await client.post(URL)
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"leg_A", "leg_B"}  # type: ignore[arg-type]


async def test_other_media_types_are_415(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, content=b"<x/>", headers={"content-type": "text/xml"})
    assert response.status_code == 415


async def test_a_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, json={**SEED, "failure_announce": "x" * 10_000})
    assert response.status_code == 413


async def test_limit_reached_is_429_with_retry_after(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks
) -> None:
    fake_callbacks.refuse = CallLimitReached("at most 1 calls per second", retry_after=0.2)
    response = await client.post(URL, json=SEED)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert error_of(response)["id"] == "call_limit_reached"


async def test_an_overloaded_server_is_503_with_retry_after(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks
) -> None:
    fake_callbacks.refuse = ServerOverloaded("the server is overloaded", retry_after=1.0)
    response = await client.post(URL, json=SEED)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert error_of(response)["id"] == "server_overloaded"
    assert fake_callbacks.placed == []


def a_detail(callback_id: str, *, api_key_id: str) -> CallbackDetail:
    leg_a = call_record(
        callback_id,
        api_key_id=api_key_id,
        status="completed",
        answered_at=T0 + timedelta(seconds=5),
        ended_at=T0 + timedelta(seconds=40),
        duration=35,
        hangup_cause="hung_up",
        hangup_by="remote",
    )
    leg_b = call_record(
        "CAb", api_key_id=api_key_id, parent_sid=callback_id, status="busy", sip_code=486
    )
    event = CallEventRecord(call_sid=callback_id, seq=1, name="callback", at=T0, data={})
    delivery = DeliveryRecord(
        id=1,
        call_sid="CAb",
        seq=1,
        url="https://h.example/events",
        method="POST",
        params={"CallStatus": "completed", "apikey": "secret"},
        status="delivered",
        attempts=1,
        next_attempt_at=T0,
        last_error=None,
        last_status_code=200,
        delivered_at=T0,
    )
    return CallbackDetail(
        id=callback_id,
        mode="sequential",
        first="A",
        status="failed",
        ended_by="B",
        reason="busy",
        created_at=T0,
        bridged_at=None,
        ended_at=T0 + timedelta(seconds=40),
        bridged_seconds=None,
        leg_a=replace(detail_of(leg_a), events=(event,)),
        leg_b=replace(detail_of(leg_b), deliveries=(delivery,)),
    )


async def test_get_shows_both_legs_with_states_causes_durations_and_deliveries(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks, keys: Keys
) -> None:
    fake_callbacks.add(a_detail("CAa", api_key_id=keys.main.id), api_key_id=keys.main.id)
    response = await client.get(f"{URL}/CAa")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["status"], body["endedBy"], body["reason"]) == (
        "CAa",
        "failed",
        "B",
        "busy",
    )
    assert body["bridgedAt"] is None
    assert body["endedAt"] == (T0 + timedelta(seconds=40)).isoformat()
    leg_a, leg_b = body["leg_A"], body["leg_B"]
    assert (leg_a["status"], leg_a["duration"], leg_a["hangupCause"]) == (
        "completed",
        35,
        "hung_up",
    )
    assert [e["name"] for e in leg_a["events"]] == ["callback"]
    assert (leg_b["status"], leg_b["sipCode"], leg_b["ParentCallSid"]) == ("busy", 486, "CAa")
    (webhook,) = leg_b["webhooks"]
    assert (webhook["event"], webhook["status"]) == ("completed", "delivered")
    assert "secret" not in response.text


async def test_another_keys_callback_and_an_unknown_one_are_404(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks, keys: Keys
) -> None:
    fake_callbacks.add(a_detail("CAa", api_key_id=keys.other.id), api_key_id=keys.other.id)
    mine = await client.get(f"{URL}/CAa")
    assert mine.status_code == 404
    assert error_of(mine)["id"] == "callback_not_found"
    assert (await client.get(f"{URL}/CAa", headers={"apikey": OTHER_KEY})).status_code == 200
    assert (await client.get(f"{URL}/CAnothing")).status_code == 404
    assert (await anonymous(client).get(f"{URL}/CAa")).status_code == 401

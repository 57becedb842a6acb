"""The Twilio-compatible Calls API over the in-process transport (fake call service, real
keys): HTTP Basic auth and its refusals, Twilio's error codes per refused field, the
resource and paging shapes, and what each request hands to the call service."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from api_fakes import KEY, MAX_BODY, OTHER_KEY, T0, UNSCOPED_KEY, FakeCalls, Keys, call_record

from callbridge.callflow.verbs import Pause, Say
from callbridge.dialects.twilio_callbacks import TwilioCallDialect
from callbridge.store.records import RecordingRecord

ROOT = "/2010-04-01/Accounts/main"
CALLS = f"{ROOT}/Calls.json"
TWIML = '<Response><Say>Hello</Say><Pause length="1"/></Response>'


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "apikey": ""}


MAIN = basic("main", KEY)


def assert_twilio_error(reply: httpx.Response, status: int, code: int) -> None:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert (body["code"], body["status"]) == (code, status), body
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"


@pytest.mark.parametrize(
    ("headers", "path"),
    [
        ({"apikey": ""}, CALLS),  # no Authorization at all
        ({"Authorization": "Basic !!notbase64!!", "apikey": ""}, CALLS),
        ({"Authorization": "Basic " + base64.b64encode(b"no-colon").decode(), "apikey": ""}, CALLS),
        ({"Authorization": f"Bearer {KEY}", "apikey": ""}, CALLS),
        (basic("main", "wrong-key-0123456789"), CALLS),
        (basic("other", KEY), "/2010-04-01/Accounts/other/Calls.json"),  # the key is main's
        ({"Authorization": "Basic " + "A" * 5000, "apikey": ""}, CALLS),
    ],
)
async def test_wrong_or_missing_credentials_are_20003(
    client: httpx.AsyncClient, headers: dict[str, str], path: str
) -> None:
    reply = await client.get(path, headers=headers)
    assert_twilio_error(reply, 401, 20003)
    assert reply.headers["www-authenticate"] == 'Basic realm="Twilio API"'


async def test_another_accounts_url_is_20404_and_a_key_without_scope_20403(
    client: httpx.AsyncClient,
) -> None:
    reply = await client.get("/2010-04-01/Accounts/other/Calls.json", headers=MAIN)
    assert_twilio_error(reply, 404, 20404)
    unscoped = basic("unscoped", UNSCOPED_KEY)
    reply = await client.get("/2010-04-01/Accounts/unscoped/Calls.json", headers=unscoped)
    assert_twilio_error(reply, 403, 20403)


async def test_wrong_tokens_are_throttled_with_20429(client: httpx.AsyncClient) -> None:
    for _ in range(10):
        await client.get(CALLS, headers=basic("main", "wrong-key-0123456789"))
    reply = await client.get(CALLS, headers=MAIN)  # even the right key, while throttled
    assert_twilio_error(reply, 429, 20429)
    assert int(reply.headers["retry-after"]) >= 1


async def test_create_with_twiml_hands_the_parsed_document_and_twilios_dialect(
    client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys
) -> None:
    reply = await client.post(
        CALLS,
        headers=MAIN,
        data={
            "To": "+15550002",
            "From": "+15550001",
            "Twiml": TWIML,
            "StatusCallback": "https://example.com/status",
            "StatusCallbackEvent": ["initiated", "answered completed"],
            "Timeout": "2",
            "SendDigits": "1w2",
            "MachineDetection": "Enable",  # a Twilio parameter not supported: ignored
        },
    )
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["sid"] == "CA" + "0" * 31 + "1"
    assert body["account_sid"] == "main"
    assert body["status"] == "queued"
    assert body["direction"] == "outbound-api"
    assert body["from"] == "+15550001"
    assert body["date_created"] == "Wed, 01 Jan 2025 12:00:01 +0000"
    assert body["duration"] is None
    assert body["price"] is None
    assert body["uri"] == f"{ROOT}/Calls/{body['sid']}.json"
    assert body["subresource_uris"]["recordings"] == f"{ROOT}/Calls/{body['sid']}/Recordings.json"
    assert reply.headers["location"] == body["uri"]
    [placed] = fake_calls.placed
    assert placed.api_key_id == keys.main.id
    assert placed.url is None
    assert placed.program is not None
    assert [type(v) for v in placed.program.verbs] == [Say, Pause]
    assert isinstance(placed.dialect, TwilioCallDialect)
    assert placed.dialect.account_sid == "main"
    assert placed.ring_timeout == 5.0  # Timeout=2 is raised to the shortest ring
    assert placed.send_digits == "1w2"
    assert placed.status_callback is not None
    assert [e.value for e in placed.status_callback.events] == [
        "initiated",
        "answered",
        "completed",
    ]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"From": "+1", "Url": "https://example.com/a"}, 21201),  # no To
        ({"To": "not a number", "From": "+1", "Url": "https://example.com/a"}, 21211),
        ({"To": "+1", "Url": "https://example.com/a"}, 21213),  # no From
        ({"To": "+1", "From": "<bad>", "Url": "https://example.com/a"}, 21212),
        ({"To": "+1", "From": "+2"}, 21205),  # neither Url nor Twiml
        ({"To": "+1", "From": "+2", "Url": "ftp://example.com/a"}, 21205),
        ({"To": "+1", "From": "+2", "Twiml": "<Response><Say>"}, 12100),
        ({"To": "+1", "From": "+2", "Twiml": "<Nope/>"}, 12100),
        (
            {
                "To": "+1",
                "From": "+2",
                "Twiml": '<!DOCTYPE r [<!ENTITY a "b">]><Response><Say>&a;</Say></Response>',
            },
            12100,
        ),
        ({"To": "+1", "From": "+2", "Twiml": "<Response>" + " " * 4000 + "</Response>"}, 12100),
        (
            {
                "To": "+1",
                "From": "+2",
                "Twiml": TWIML,
                "StatusCallback": "javascript:alert(1)",
            },
            21609,
        ),
        ({"To": "+1", "From": "+2", "Twiml": TWIML, "Timeout": "-3"}, 20001),
    ],
)
async def test_refused_fields_get_twilios_codes(
    client: httpx.AsyncClient, fake_calls: FakeCalls, fields: dict[str, str], code: int
) -> None:
    reply = await client.post(CALLS, headers=MAIN, data=fields)
    assert_twilio_error(reply, 400, code)
    assert fake_calls.placed == []


async def test_a_body_past_the_limit_is_refused_in_twilios_shape(
    client: httpx.AsyncClient,
) -> None:
    reply = await client.post(CALLS, headers=MAIN, data={"Twiml": "x" * (MAX_BODY + 1)})
    assert_twilio_error(reply, 413, 20001)


async def test_update_runs_twiml_redirects_or_hangs_up(
    client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys
) -> None:
    fake_calls.add(call_record("CA1", api_key_id=keys.main.id, status="in-progress"), live=True)
    path = f"{ROOT}/Calls/CA1.json"
    reply = await client.post(path, headers=MAIN, data={"Twiml": TWIML})
    assert reply.status_code == 200, reply.text
    [(sid, program)] = fake_calls.programs
    assert sid == "CA1"
    assert [type(v) for v in program.verbs] == [Say, Pause]
    reply = await client.post(
        path, headers=MAIN, data={"Url": "https://example.com/next", "Method": "GET"}
    )
    assert reply.status_code == 200
    assert fake_calls.redirected == [("CA1", "https://example.com/next", "GET")]
    both = await client.post(path, headers=MAIN, data={"Status": "completed", "Twiml": TWIML})
    assert_twilio_error(both, 400, 12100)
    reply = await client.post(path, headers=MAIN, data={"Status": "completed"})
    assert reply.json()["status"] == "completed"
    again = await client.post(path, headers=MAIN, data={"Status": "completed"})
    assert_twilio_error(again, 400, 21220)
    assert_twilio_error(await client.post(path, headers=MAIN, data={}), 400, 20001)


async def test_another_keys_call_is_not_found(
    client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys
) -> None:
    fake_calls.add(call_record("CA2", api_key_id=keys.other.id), live=True)
    assert_twilio_error(await client.get(f"{ROOT}/Calls/CA2.json", headers=MAIN), 404, 20404)
    reply = await client.post(f"{ROOT}/Calls/CA2.json", headers=MAIN, data={"Status": "completed"})
    assert_twilio_error(reply, 404, 20404)
    other = basic("other", OTHER_KEY)
    reply = await client.get("/2010-04-01/Accounts/other/Calls/CA2.json", headers=other)
    assert reply.json()["account_sid"] == "other"


async def test_list_pages_with_twilios_envelope(
    client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys
) -> None:
    for n in range(3):
        fake_calls.add(
            call_record(
                f"CA{n}",
                api_key_id=keys.main.id,
                status="completed",
                created_at=T0 + timedelta(minutes=n),
                ended_at=T0 + timedelta(minutes=n, seconds=30),
                answered_at=T0 + timedelta(minutes=n, seconds=5),
                duration=25,
            )
        )
    fake_calls.add(call_record("CA9", api_key_id=keys.main.id, status="busy"))
    first = await client.get(CALLS, headers=MAIN, params={"Status": "completed", "PageSize": 2})
    page = first.json()
    assert [c["sid"] for c in page["calls"]] == ["CA2", "CA1"]
    assert page["calls"][0]["duration"] == "25"
    assert page["calls"][0]["end_time"] == "Wed, 01 Jan 2025 12:02:30 +0000"
    assert (page["page"], page["page_size"], page["start"], page["end"]) == (0, 2, 0, 1)
    assert page["previous_page_uri"] is None
    assert page["first_page_uri"] == f"{CALLS}?Status=completed&PageSize=2&Page=0"
    following = urlsplit(page["next_page_uri"])
    assert following.path == CALLS
    query = parse_qs(following.query)
    assert query["Status"] == ["completed"]
    assert query["Page"] == ["1"]
    second = (await client.get(page["next_page_uri"], headers=MAIN)).json()
    assert [c["sid"] for c in second["calls"]] == ["CA0"]
    assert (second["page"], second["start"], second["end"]) == (1, 2, 2)
    assert second["next_page_uri"] is None
    assert second["previous_page_uri"] == page["first_page_uri"]


@pytest.mark.parametrize(
    "query",
    [
        {"Status": "exploded"},
        {"StartTime": "yesterday"},
        {"StartTime>": "2025-13-45"},
        {"PageSize": "100000"},
        {"Page": "3"},  # past page 0 without its PageToken
        {"PageToken": "not-a-token"},
    ],
)
async def test_bad_list_queries_are_400(client: httpx.AsyncClient, query: dict[str, str]) -> None:
    assert_twilio_error(await client.get(CALLS, headers=MAIN, params=query), 400, 20001)


async def test_recordings_list_and_their_audio(
    client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys, tmp_path: object
) -> None:
    fake_calls.add(call_record("CA3", api_key_id=keys.main.id, status="completed"))
    fake_calls.recordings[5] = RecordingRecord(
        id=5, call_sid="CA3", path="/nonexistent.wav", duration=3.4, created_at=T0
    )
    reply = await client.get(f"{ROOT}/Calls/CA3/Recordings.json", headers=MAIN)
    [recording] = reply.json()["recordings"]
    assert recording["sid"] == "RE" + "0" * 31 + "5"
    assert recording["call_sid"] == "CA3"
    assert recording["duration"] == "3"
    assert recording["media_url"] == f"{ROOT}/Recordings/{recording['sid']}.wav"
    missing = await client.get(recording["media_url"], headers=MAIN)  # its file is gone
    assert_twilio_error(missing, 404, 20404)
    huge = await client.get(f"{ROOT}/Recordings/RE{'f' * 32}.wav", headers=MAIN)
    assert_twilio_error(huge, 404, 20404)

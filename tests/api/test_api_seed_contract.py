"""The seed-001 client as the seed describes it, with only the host changed: its own path
(with and without the trailing slash), ``from``/``to``/``url`` "in the post headers", and
options that have no effect accepted with a warning rather than refused."""

from __future__ import annotations

import httpx
import pytest
from api_fakes import FakeCalls, Keys

from callbridge.calls.request import OutboundCallRequest

HELLO = "http://www.didforsale.com/apidemo/hello-world.php"
SEED_PATH = "/didforsaleapi/index.php/api/V2/CallTermination"


@pytest.mark.parametrize("path", [SEED_PATH + "/", SEED_PATH])
async def test_the_seeds_path_places_a_call(
    client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys, path: str
) -> None:
    response = await client.post(
        path, data={"from": "19499300360", "to": "18005797676", "url": HELLO}
    )
    assert response.status_code == 201, response.text
    assert response.json()["CallSid"].startswith("CA")
    assert "warnings" not in response.json()
    assert fake_calls.placed == [
        OutboundCallRequest(
            api_key_id=keys.main.id, to="18005797676", from_="19499300360", url=HELLO
        )
    ]


async def test_fields_in_the_post_headers_and_the_body_wins(
    client: httpx.AsyncClient, fake_calls: FakeCalls, keys: Keys
) -> None:
    headers = {"from": "19499300360", "to": "18005797676", "url": HELLO}
    response = await client.post(SEED_PATH + "/", headers=headers)
    assert response.status_code == 201, response.text
    response = await client.post(SEED_PATH + "/", headers=headers, data={"to": "1555", "from": ""})
    assert response.status_code == 201, response.text
    assert [(call.from_, call.to, call.url) for call in fake_calls.placed] == [
        ("19499300360", "18005797676", HELLO),
        ("19499300360", "1555", HELLO),
    ]


async def test_options_without_status_callback_and_unknown_fields_are_warnings(
    client: httpx.AsyncClient, fake_calls: FakeCalls
) -> None:
    response = await client.post(
        "/api/v2/calls",
        data={
            "from": "1001",
            "to": "1002",
            "statusCallbackEvent": "ringing",
            "secretKey": "s",
            "optional": "t=1",
            "colour": "blue",
        },
    )
    assert response.status_code == 201, response.text
    warnings = {w["field"]: w["message"] for w in response.json()["warnings"]}
    assert set(warnings) == {"statusCallbackEvent", "secretKey", "optional", "colour"}
    assert "needs statusCallback" in warnings["secretKey"]
    assert "ignored" in warnings["colour"]
    assert fake_calls.placed[0].status_callback is None


async def test_many_unknown_fields_give_a_bounded_list(
    client: httpx.AsyncClient, fake_calls: FakeCalls
) -> None:
    fields = {"from": "1001", "to": "1002"} | {f"{n:03}" * 30: "" for n in range(40)}
    response = await client.post("/api/v2/calls", data=fields)
    assert response.status_code == 201, response.text
    warnings = response.json()["warnings"]
    assert len(warnings) == 20
    assert all(len(w["field"]) <= 64 for w in warnings)


async def test_the_callback_api_follows_the_same_rule(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/voice/call/callback",
        json={
            "leg_A": {"to": "1000123", "from": "1000125", "secret_key": "k"},
            "leg_B": {"to": "1000125", "from": "1000123"},
            "priority": "high",
        },
    )
    assert response.status_code == 201, response.text
    fields = {w["field"] for w in response.json()["warnings"]}
    assert fields == {"leg_A.secret_key", "priority"}

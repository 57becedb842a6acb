"""Bitrix24's REST methods under /rest/: voximplant.callback.start, voximplant.line.get and
voximplant.tts.voices.get, their keys, replies and errors in Bitrix24's shape."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from api_fakes import KEY, MAX_BODY, OTHER_KEY, UNSCOPED_KEY, Keys, form
from bitrix_fakes import SALES, FakeVoices
from callback_fakes import FakeCallbacks

from audio_analysis import read_wav_mono, rms
from callbridge.calls.errors import CallLimitReached, ServerOverloaded
from callbridge.calls.request import (
    Announcement,
    CallbackMode,
    CallbackRequest,
    LegName,
    LegSpec,
)
from callbridge.dialects.bitrix_voices import bitrix_voice, bitrix_voices_offered
from callbridge.media.tts import Tts

START = "/rest/voximplant.callback.start"
JSON = "application/json"
SEED = {
    "FROM_LINE": "reg1332",
    "TO_NUMBER": "79111234567",
    "TEXT_TO_PRONOUNCE": "You have a callback request, connecting with the client now.",
    "VOICE": "ruinternalfemale",
}


def anonymous(client: httpx.AsyncClient) -> httpx.AsyncClient:
    client.headers.pop("apikey", None)
    return client


def webhook(method: str, *, code: str = KEY, user_id: str = "1") -> str:
    """An incoming webhook's URL, whose code is the API key."""
    return f"/rest/{user_id}/{code}/{method}"


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    return response.status_code, body["error"], body["error_description"]


async def test_the_seed_example_rings_the_line_then_calls_the_client(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks, keys: Keys
) -> None:
    response = await client.post(START, json=SEED)
    assert response.status_code == 200, response.text
    body = response.json()
    (placed,) = fake_callbacks.placed
    assert body["result"] == {"RESULT": True, "CALL_ID": f"CA{1:031d}a"}
    assert body["time"]["duration"] >= 0
    assert placed == CallbackRequest(
        api_key_id=keys.main.id,
        leg_a=LegSpec(
            to="reg1332",
            from_="79111234567",
            line=SALES,
            ring_timeout=20.0,
            announce=Announcement(text=SEED["TEXT_TO_PRONOUNCE"], voice="ru+f3"),
        ),
        leg_b=LegSpec(to="79111234567", from_="+15550123", ring_timeout=60.0),
        mode=CallbackMode.SEQUENTIAL,
        first=LegName.A,
    )


@pytest.mark.parametrize("path", [START, START + ".json"])
async def test_form_query_and_json_suffix(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks, path: str
) -> None:
    by_form = await client.post(path, **form(list(SEED.items())))  # type: ignore[arg-type]
    by_query = await client.get(path, params={k.lower(): v for k, v in SEED.items()})
    assert [by_form.status_code, by_query.status_code] == [200, 200], by_query.text
    assert fake_callbacks.placed[0] == fake_callbacks.placed[1]


async def test_without_a_voice_the_default_voice_speaks(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks, fake_voices: FakeVoices
) -> None:
    fields = {k: v for k, v in SEED.items() if k != "VOICE"}
    assert (await client.post(START, json=fields)).status_code == 200
    assert fake_callbacks.placed[0].leg_a.announce == Announcement(
        text=SEED["TEXT_TO_PRONOUNCE"], voice=None
    )
    assert fake_voices.asked == []


async def test_the_key_as_auth_field_or_bearer(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks, keys: Keys
) -> None:
    anonymous(client)
    by_query = await client.post(START, params={"auth": KEY}, json=SEED)
    by_body = await client.post(START, json={**SEED, "auth": OTHER_KEY})
    by_form = await client.post(START, **form([*SEED.items(), ("auth", KEY)]))  # type: ignore[arg-type]
    by_bearer = await client.post(START, json=SEED, headers={"Authorization": f"Bearer {KEY}"})
    statuses = [r.status_code for r in (by_query, by_body, by_form, by_bearer)]
    assert statuses == [200, 200, 200, 200]
    owners = [p.api_key_id for p in fake_callbacks.placed]
    assert owners == [keys.main.id, keys.other.id, keys.main.id, keys.main.id]


async def test_a_missing_or_wrong_key_is_401(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks
) -> None:
    anonymous(client)
    missing = await client.post(START, json=SEED)
    assert error_of(missing) == (
        401,
        "NO_AUTH_FOUND",
        "send your API key as the auth field or an Authorization: Bearer header",
    )
    assert missing.headers["www-authenticate"] == "Bearer"
    for response in (
        await client.post(START, json={**SEED, "auth": "wrong-key"}),
        await client.get("/rest/voximplant.line.get", headers={"Authorization": "Bearer nope"}),
        await client.post(START, content=b"{nope", params={"auth": "wrong-key"}),
    ):
        assert error_of(response)[:2] == (401, "NO_AUTH_FOUND")
    assert fake_callbacks.placed == []


@pytest.mark.parametrize("sent_as", ["apikey header", "webhook URL"])
async def test_a_key_without_the_call_scope_is_403(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks, sent_as: str
) -> None:
    anonymous(client)
    for method in ("voximplant.callback.start", "voximplant.line.get", "voximplant.tts.voices.get"):
        if sent_as == "webhook URL":
            response = await client.post(webhook(method, code=UNSCOPED_KEY), json=SEED)
        else:
            response = await client.post(
                f"/rest/{method}", json=SEED, headers={"apikey": UNSCOPED_KEY}
            )
        assert error_of(response) == (
            403,
            "insufficient_scope",
            "the API key does not have the 'call' scope",
        )
    assert fake_callbacks.placed == []


@pytest.mark.parametrize(
    ("changes", "code", "description"),
    [
        ({"FROM_LINE": "reg9999"}, "ERROR_CORE", "Could not find line reg9999"),
        ({"FROM_LINE": "sip7"}, "ERROR_CORE", "Could not find line sip7"),
        ({"FROM_LINE": ""}, "ERROR_ARGUMENT", "FROM_LINE: is required"),
        ({"VOICE": "klingon"}, "ERROR_ARGUMENT", "VOICE: is not a known voice ('klingon')"),
        ({"TEXT_TO_PRONOUNCE": " "}, "ERROR_ARGUMENT", "TEXT_TO_PRONOUNCE: is required"),
        ({"TEXT_TO_PRONOUNCE": "x" * 1001}, "ERROR_ARGUMENT", "TEXT_TO_PRONOUNCE: must be at"),
        ({"TO_NUMBER": "7911xxxxxxx"}, "ERROR_ARGUMENT", "TO_NUMBER: must be a phone number"),
        ({"TO_NUMBER": ""}, "ERROR_ARGUMENT", "TO_NUMBER: is required"),
    ],
)
async def test_each_bad_field_is_one_clear_400_and_nothing_is_dialled(
    client: httpx.AsyncClient,
    fake_callbacks: FakeCallbacks,
    changes: dict[str, str],
    code: str,
    description: str,
) -> None:
    response = await client.post(START, json={**SEED, **changes})
    status, error, why = error_of(response)
    assert (status, error) == (400, code)
    assert why.startswith(description), why
    assert fake_callbacks.placed == []


async def test_a_line_of_another_key_is_usable_by_that_key(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks
) -> None:
    response = await client.post(START, json={**SEED, "FROM_LINE": "sip7", "auth": OTHER_KEY})
    assert client.headers.get("apikey") == KEY  # the header wins over the field...
    assert response.status_code == 400  # ...so it is the main key's request
    anonymous(client)
    response = await client.post(START, json={**SEED, "FROM_LINE": "sip7", "auth": OTHER_KEY})
    assert response.status_code == 200, response.text
    assert fake_callbacks.placed[0].leg_b.from_ == "sip7"  # no number: the line's id


async def test_bad_bodies_and_the_limits(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks
) -> None:
    not_json = await client.post(START, content=b"{nope", headers={"content-type": JSON})
    assert error_of(not_json)[:2] == (400, "INVALID_REQUEST")
    nested = await client.post(START, json={**SEED, "VOICE": {"id": "x"}})
    assert error_of(nested) == (
        400,
        "ERROR_ARGUMENT",
        "VOICE: must be a string, a number, a boolean or a list of them",
    )
    too_big = await client.post(START, json={**SEED, "TEXT_TO_PRONOUNCE": "x" * MAX_BODY})
    assert error_of(too_big)[:2] == (413, "INVALID_REQUEST")
    xml = await client.post(START, content=b"<a/>", headers={"content-type": "text/xml"})
    assert error_of(xml)[:2] == (415, "INVALID_REQUEST")
    fake_callbacks.refuse = CallLimitReached("too many calls", retry_after=1.5)
    limited = await client.post(START, json=SEED)
    assert error_of(limited) == (429, "QUERY_LIMIT_EXCEEDED", "too many calls")
    assert limited.headers["retry-after"] == "2"
    fake_callbacks.refuse = ServerOverloaded("the server is overloaded", retry_after=1.0)
    overloaded = await client.post(START, json=SEED)
    assert error_of(overloaded) == (503, "OVERLOAD_LIMIT", "the server is overloaded")
    assert overloaded.headers["retry-after"] == "1"


async def test_unknown_methods_are_404_in_bitrix_shape_and_other_apis_keep_theirs(
    client: httpx.AsyncClient,
) -> None:
    assert error_of(await client.post("/rest/crm.lead.add")) == (
        404,
        "ERROR_METHOD_NOT_FOUND",
        "Method not found!",
    )
    assert error_of(await client.delete(START))[:2] == (405, "INVALID_REQUEST")
    elsewhere = await client.get("/api/v2/nothing")
    assert elsewhere.status_code == 404
    assert elsewhere.json()["error"]["id"] == "not_found"


async def test_line_get_lists_only_the_keys_lines(client: httpx.AsyncClient) -> None:
    main = await client.post("/rest/voximplant.line.get")
    assert main.status_code == 200
    assert main.json()["result"] == {"reg1332": "Sales"}
    other = await client.get("/rest/voximplant.line.get.json", headers={"apikey": OTHER_KEY})
    assert other.json()["result"] == {"reg1332": "Sales", "sip7": "Office PBX"}


async def test_tts_voices_get_lists_the_voices(client: httpx.AsyncClient) -> None:
    response = await client.get("/rest/voximplant.tts.voices.get")
    assert response.status_code == 200
    result = response.json()["result"]
    assert list(result)[:2] == ["caenglishfemale", "ruinternalfemale"]
    assert result["ruinternalfemale"] == "Russian (female)"
    assert result["ruinternalmale"] == "Russian (male)"
    assert result["usenglishmale"] == "American English (male)"
    assert (result["ru"], result["en-us"]) == ("Russian", "English (America)")
    assert "eurgermanfemale" not in result  # espeak-ng's German is not installed here


async def test_the_real_espeak_voices(tmp_path: Path) -> None:
    voices = await Tts(cache_dir=tmp_path).voices()
    assert voices
    assert all(v.id and v.name for v in voices)
    assert "en-us" in {v.id for v in voices}


async def test_each_bitrix24_voice_offered_by_the_real_espeak_speaks(tmp_path: Path) -> None:
    """Every Bitrix24 id voices.get offers here names a voice espeak-ng renders (its
    language with the +f3/+m3 variant), not just a name in a table."""
    tts = Tts(cache_dir=tmp_path)
    installed = {voice.id for voice in await tts.voices()}
    offered = bitrix_voices_offered(installed)
    assert {"ruinternalfemale", "ruinternalmale", "usenglishfemale", "internalfemale"} <= set(
        offered
    )
    for voice_id in offered:
        espeak = bitrix_voice(voice_id, installed)
        assert espeak is not None
        rate, samples = read_wav_mono(await tts.synthesize("Hello, one two three.", espeak))
        assert rate == 8000
        assert len(samples) > 0.3 * rate, f"{voice_id} ({espeak}) said nothing"
        assert rms(samples) > 100, f"{voice_id} ({espeak}) is silent"


async def test_a_webhook_starts_a_callback_with_its_code_as_the_key(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks, keys: Keys
) -> None:
    anonymous(client)
    by_json = await client.post(webhook("voximplant.callback.start"), json=SEED)
    assert by_json.status_code == 200, by_json.text
    assert by_json.json()["result"] == {"RESULT": True, "CALL_ID": f"CA{1:031d}a"}
    by_query = await client.get(
        webhook("voximplant.callback.start", code=OTHER_KEY, user_id="42"), params=SEED
    )
    assert by_query.status_code == 200, by_query.text
    # The URL's code is the key: a key in a header or a field is not looked at.
    by_header = await client.post(
        webhook("voximplant.callback.start", code=OTHER_KEY),
        json={**SEED, "auth": KEY},
        headers={"apikey": KEY, "Authorization": f"Bearer {KEY}"},
    )
    assert by_header.status_code == 200, by_header.text
    by_rest = await client.post(START, json={**SEED, "auth": KEY})
    assert by_rest.status_code == 200, by_rest.text
    owners = [p.api_key_id for p in fake_callbacks.placed]
    assert owners == [keys.main.id, keys.other.id, keys.other.id, keys.main.id]
    assert fake_callbacks.placed[0] == fake_callbacks.placed[3]  # the same callback either way


@pytest.mark.parametrize("suffix", ["", ".json"])
async def test_each_method_by_webhook_with_or_without_json(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks, suffix: str
) -> None:
    anonymous(client)
    start = await client.post(webhook("voximplant.callback.start" + suffix), json=SEED)
    assert start.status_code == 200, start.text
    lines = await client.get(webhook("voximplant.line.get" + suffix, code=OTHER_KEY))
    assert lines.json()["result"] == {"reg1332": "Sales", "sip7": "Office PBX"}
    voices = await client.post(webhook("voximplant.tts.voices.get" + suffix))
    assert voices.json()["result"]["ruinternalfemale"] == "Russian (female)"
    assert len(fake_callbacks.placed) == 1


async def test_a_webhook_with_a_wrong_code_is_401_whatever_else_is_sent(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks
) -> None:
    assert client.headers["apikey"] == KEY  # a good key in the header does not help
    for response in (
        await client.post(webhook("voximplant.callback.start", code="wrong"), json=SEED),
        await client.get(webhook("voximplant.line.get.json", code=KEY + "x"), params={"auth": KEY}),
        await client.post(webhook("voximplant.tts.voices.get", code="%20")),
        await client.post(webhook("voximplant.callback.start", code="k" * 10_000), json=SEED),
        await client.post(  # a bad key is told before a bad body
            webhook("voximplant.callback.start", code="wrong"),
            content=b"{nope",
            headers={"content-type": JSON},
        ),
    ):
        assert error_of(response) == (401, "NO_AUTH_FOUND", "the API key is not valid")
        assert response.headers["www-authenticate"] == "Bearer"
    assert fake_callbacks.placed == []


@pytest.mark.parametrize(
    "path",
    [
        webhook("crm.lead.add"),
        webhook("crm.lead.add.json"),
        webhook("voximplant.callback.start.xml"),
        webhook("crm.lead.add", code="wrong", user_id="x"),
        "/rest/1/voximplant.line.get",
        f"/rest/1/{KEY}/extra/voximplant.line.get",
    ],
)
async def test_an_unknown_method_by_webhook_is_404_in_bitrix_shape(
    client: httpx.AsyncClient, path: str
) -> None:
    anonymous(client)
    assert error_of(await client.post(path)) == (
        404,
        "ERROR_METHOD_NOT_FOUND",
        "Method not found!",
    )
    assert error_of(await client.delete(webhook("voximplant.line.get")))[:2] == (
        405,
        "INVALID_REQUEST",
    )


@pytest.mark.parametrize("user_id", ["abc", "1a", "-1", "1.0", "%20", "\u0661"])
async def test_a_webhook_whose_user_id_is_not_digits_is_401(
    client: httpx.AsyncClient, fake_callbacks: FakeCallbacks, user_id: str
) -> None:
    anonymous(client)
    for method in ("voximplant.callback.start", "voximplant.line.get.json"):
        response = await client.post(webhook(method, user_id=user_id), json=SEED)
        assert error_of(response) == (
            401,
            "NO_AUTH_FOUND",
            "the webhook's user id must be a number: /rest/<user_id>/<code>/<method>",
        )
        assert response.headers["www-authenticate"] == "Bearer"
    assert fake_callbacks.placed == []

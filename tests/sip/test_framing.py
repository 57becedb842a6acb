"""Framing a SIP stream (RFC 3261 §18.3) and RFC 5626 keep-alive pings."""

from __future__ import annotations

import pytest

from callbridge.sip.framing import FramingError, Keepalive, StreamFramer
from callbridge.sip.message import MAX_MESSAGE_SIZE


def message(body: bytes = b"", *, branch: str = "z9hG4bKa1") -> bytes:
    head = (
        "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 127.0.0.1:5999;branch={branch}\r\n"
        "From: <sip:alice@127.0.0.1>;tag=a\r\n"
        "To: <sip:bob@127.0.0.1>\r\n"
        "Call-ID: frame-test\r\n"
        "CSeq: 1 OPTIONS\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def frames(framer: StreamFramer) -> list[bytes | Keepalive]:
    found: list[bytes | Keepalive] = []
    while (item := framer.next()) is not None:
        found.append(item)
    return found


def test_frames_split_by_content_length_with_pings_between() -> None:
    first, second = message(b"hello"), message(b"", branch="z9hG4bKa2")
    framer = StreamFramer()
    framer.feed(b"\r\n\r\n" + first + b"\r\n" + second[:10])
    assert frames(framer) == [Keepalive.PING, first]
    assert framer.partial  # the second one has begun
    framer.feed(second[10:])
    assert frames(framer) == [second]
    assert not framer.partial


def test_a_ping_split_across_reads_is_one_ping_and_a_lone_crlf_is_dropped() -> None:
    framer = StreamFramer()
    framer.feed(b"\r\n")
    assert frames(framer) == []
    assert not framer.partial
    framer.feed(b"\r\n")
    assert frames(framer) == [Keepalive.PING]
    framer.feed(b"\r\n" + message())
    assert frames(framer) == [message()]


def test_compact_content_length_frames() -> None:
    data = message(b"abc").replace(b"Content-Length:", b"l:")
    framer = StreamFramer()
    framer.feed(data + b"rest")
    assert frames(framer) == [data]
    assert framer.partial


def test_a_header_trickled_byte_by_byte_frames_once_complete() -> None:
    data = message(b"xyz")
    framer = StreamFramer()
    for byte in data[:-1]:
        framer.feed(bytes([byte]))
        assert framer.next() is None
    framer.feed(data[-1:])
    assert frames(framer) == [data]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (message().replace(b"Content-Length: 0", b"Content-Length: x"), 400),
        (message().replace(b"Content-Length: 0", b"Content-Length: -4"), 400),
        (message().replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 0"), 400),
        (message().replace(b"Content-Length: 0", b"Content-Length: " + b"9" * 5000), 400),
        (
            message().replace(b"Content-Length: 0", f"Content-Length: {MAX_MESSAGE_SIZE}".encode()),
            513,
        ),
        (b"X" * (MAX_MESSAGE_SIZE + 1), 513),
    ],
    ids=["garbage", "negative", "twice", "5000 digits", "body too large", "headers too large"],
)
def test_unframeable_streams(data: bytes, status: int) -> None:
    framer = StreamFramer()
    framer.feed(data)
    with pytest.raises(FramingError) as caught:
        framer.next()
    assert caught.value.status == status
    assert len(caught.value.head) <= MAX_MESSAGE_SIZE

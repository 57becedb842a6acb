from __future__ import annotations

import struct

import pytest

from callbridge.rtp.packet import (
    MalformedRtp,
    build_packet,
    header_length,
    is_rtp,
    parse_header,
    payload_type,
    rewrite_header,
    write_header,
)


def test_build_and_parse_round_trip() -> None:
    packet = build_packet(
        payload_type=8,
        sequence=65535,
        timestamp=2**32 - 1,
        ssrc=0xDEADBEEF,
        payload=b"ab",
        marker=True,
    )
    header = parse_header(packet)
    assert packet[0] == 0x80
    assert (header.marker, header.payload_type) == (True, 8)
    assert (header.sequence, header.timestamp, header.ssrc) == (65535, 2**32 - 1, 0xDEADBEEF)
    assert packet[header.payload_start : header.payload_end] == b"ab"
    assert payload_type(packet) == 8


def test_sequence_and_timestamp_wrap_when_building() -> None:
    header = parse_header(
        build_packet(payload_type=0, sequence=65536 + 5, timestamp=2**32 + 7, ssrc=1, payload=b"")
    )
    assert (header.sequence, header.timestamp) == (5, 7)


def test_csrc_extension_and_padding_are_skipped() -> None:
    csrcs = struct.pack("!II", 1, 2)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x10\x01\x00\x00"
    body = b"payload" + b"\x00\x00\x03"
    first = 0x80 | 0x20 | 0x10 | 2
    packet = struct.pack("!BBHII", first, 0, 1, 2, 3) + csrcs + extension + body
    header = parse_header(packet)
    assert header_length(packet) == 12 + 8 + 8
    assert packet[header.payload_start : header.payload_end] == b"payload"


def test_rewrite_keeps_marker_and_payload() -> None:
    packet = bytearray(
        build_packet(payload_type=0, sequence=1, timestamp=2, ssrc=3, payload=b"xyz", marker=True)
    )
    rewrite_header(packet, ssrc=9, sequence=10, timestamp=11, payload_type=8)
    header = parse_header(bytes(packet))
    assert (header.marker, header.payload_type) == (True, 8)
    assert (header.sequence, header.timestamp, header.ssrc) == (10, 11, 9)
    assert packet[12:] == b"xyz"


def test_write_header_into_preallocated_buffer() -> None:
    buf = bytearray(16)
    write_header(buf, payload_type=101, sequence=7, timestamp=8, ssrc=9, marker=False)
    header = parse_header(bytes(buf))
    assert (header.payload_type, header.sequence, header.ssrc) == (101, 7, 9)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80\x00",
        bytes(11),
        b"\x40" + bytes(11),
        b"\x8f" + bytes(11),
        b"\xa0" + bytes(10) + b"\xff",
    ],
)
def test_malformed_packets_raise(data: bytes) -> None:
    if not is_rtp(data) or len(data) >= 12:
        with pytest.raises(MalformedRtp):
            parse_header(data)

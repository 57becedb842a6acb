"""RTP fixed header on raw bytes (RFC 3550 §5.1), without per-packet objects on hot paths.

::

     0                   1                   2                   3
    |V=2|P|X|  CC   |M|     PT      |       sequence number         |
    |                           timestamp                           |
    |           synchronization source (SSRC) identifier            |

The relay uses :func:`header_length`, :func:`payload_type` and :data:`SEQ_TS_SSRC` directly
on the received ``bytes`` and :func:`write_header` into a preallocated ``bytearray``;
:func:`parse_header` returns a value object for the slower paths and tests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
HEADER_BYTES = 12
HEADER = struct.Struct("!BBHII")
SEQ_TS_SSRC = struct.Struct("!HII")
_EXTENSION = struct.Struct("!HH")

_V2 = 0x80
_VERSION_MASK = 0xC0
_PADDING = 0x20
_EXTENSION_BIT = 0x10
_CSRC_MASK = 0x0F
MARKER = 0x80
PT_MASK = 0x7F


class MalformedRtp(Exception):
    """A datagram that is not a well-formed RTP version 2 packet (RFC 3550 §5.1)."""


@dataclass(frozen=True)
class RtpHeader:
    """The decoded fixed header plus where the payload lies in the datagram."""

    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload_start: int
    payload_end: int


def is_rtp(data: bytes) -> bool:
    """Version 2 and long enough for the fixed header (RFC 3550 §5.1, §A.1)."""
    return len(data) >= HEADER_BYTES and data[0] & _VERSION_MASK == _V2


def payload_type(data: bytes) -> int:
    """The 7-bit payload type (RFC 3550 §5.1)."""
    return data[1] & PT_MASK


def header_length(data: bytes) -> int:
    """Fixed header + CSRC list + header extension length (RFC 3550 §5.1, §5.3.1)."""
    length = HEADER_BYTES + (data[0] & _CSRC_MASK) * 4
    if data[0] & _EXTENSION_BIT:
        if len(data) < length + 4:
            raise MalformedRtp("truncated header extension")
        _, words = _EXTENSION.unpack_from(data, length)
        length += 4 + words * 4
    if length > len(data):
        raise MalformedRtp("header longer than datagram")
    return length


def payload_end(data: bytes) -> int:
    """End of the payload, excluding padding when the P bit is set (RFC 3550 §5.1)."""
    if data[0] & _PADDING:
        return len(data) - data[-1]
    return len(data)


def parse_header(data: bytes) -> RtpHeader:
    """Decode the fixed header (RFC 3550 §5.1); raises :class:`MalformedRtp`."""
    if not is_rtp(data):
        raise MalformedRtp("not RTP version 2")
    _first, second, sequence, timestamp, ssrc = HEADER.unpack_from(data)
    start = header_length(data)
    end = payload_end(data)
    if end < start:
        raise MalformedRtp("padding longer than payload")
    return RtpHeader(
        marker=bool(second & MARKER),
        payload_type=second & PT_MASK,
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        payload_start=start,
        payload_end=end,
    )


def build_packet(
    *,
    payload_type: int,
    sequence: int,
    timestamp: int,
    ssrc: int,
    payload: bytes,
    marker: bool = False,
) -> bytes:
    """A packet with a 12-byte header, no CSRCs, extension or padding (RFC 3550 §5.1)."""
    second = (MARKER if marker else 0) | payload_type
    return HEADER.pack(_V2, second, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc) + payload


def write_header(
    buf: bytearray, *, payload_type: int, sequence: int, timestamp: int, ssrc: int, marker: bool
) -> None:
    """Overwrite the first 12 bytes of ``buf`` with a plain V=2 header (RFC 3550 §5.1)."""
    second = (MARKER if marker else 0) | payload_type
    HEADER.pack_into(buf, 0, _V2, second, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)


def rewrite_header(
    packet: bytearray,
    *,
    ssrc: int | None = None,
    sequence: int | None = None,
    timestamp: int | None = None,
    payload_type: int | None = None,
) -> None:
    """Rewrite selected fields of a packet in place, keeping the rest (RFC 3550 §5.1)."""
    if payload_type is not None:
        packet[1] = (packet[1] & MARKER) | (payload_type & PT_MASK)
    if sequence is not None:
        struct.pack_into("!H", packet, 2, sequence & 0xFFFF)
    if timestamp is not None:
        struct.pack_into("!I", packet, 4, timestamp & 0xFFFFFFFF)
    if ssrc is not None:
        struct.pack_into("!I", packet, 8, ssrc)

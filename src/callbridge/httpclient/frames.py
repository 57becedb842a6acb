"""The frames between the server and its HTTP worker process (:mod:`.process`,
:mod:`.worker`): pure encoding and incremental decoding, no I/O.

A frame is a 4-byte big-endian length and a ``marshal``-encoded tuple.  marshal carries
only built-in values (str, bytes, int, float, None, tuples, lists, dicts), so decoding a
frame cannot build arbitrary objects as unpickling could; both ends run the same
interpreter (``sys.executable``), so they agree on its format.

- request ``(id, "send", method, url, headers, body, timeout)``: ``headers`` a list of
  pairs; the answer is the status code;
- request ``(id, "fetch", method, url, params, form, max_bytes, timeout, headers)``: the
  answer is the body;
- reply ``(id, "ok", value)``, or ``(id, kind, message)`` with ``kind`` one of
  :data:`FAILURES`.
"""

from __future__ import annotations

import marshal
import struct
from typing import Any

from callbridge.httpclient.client import AddressBlocked, BodyTooLarge, HttpFailure, HttpTimeout

LENGTH = struct.Struct(">I")
# The largest frame either end accepts: an audio file's body (50 MB) and then some.
MAX_FRAME = 64 * 1024 * 1024
OK = "ok"
FAILURES: dict[str, type[HttpFailure]] = {
    "failure": HttpFailure,
    "timeout": HttpTimeout,
    "too_large": BodyTooLarge,
    "blocked": AddressBlocked,
}
Frame = tuple[Any, ...]


class FrameError(Exception):
    """The other end sent something that is not a frame (a programming error, or another
    program on the pipe)."""


def encode(message: Frame) -> bytes:
    data = marshal.dumps(message)
    if len(data) > MAX_FRAME:
        raise FrameError(f"a frame of {len(data)} bytes is above the {MAX_FRAME} byte limit")
    return LENGTH.pack(len(data)) + data


def failure_reply(request_id: int, exc: HttpFailure) -> Frame:
    """The reply that raises ``exc``'s class with its message at the other end."""
    kind = next(k for k, cls in reversed(FAILURES.items()) if isinstance(exc, cls))
    return (request_id, kind, str(exc))


def reply_exception(kind: str, message: str) -> HttpFailure:
    cls = FAILURES.get(kind)
    if cls is None:
        raise FrameError(f"unknown reply kind {kind!r}")
    return cls(message)


class FrameReader:
    """Frames out of a byte stream, whatever its chunking."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= LENGTH.size:
            (size,) = LENGTH.unpack_from(self._buffer)
            if size > MAX_FRAME:
                raise FrameError(f"a frame of {size} bytes is above the {MAX_FRAME} byte limit")
            end = LENGTH.size + size
            if len(self._buffer) < end:
                break
            frames.append(_decoded(bytes(self._buffer[LENGTH.size : end])))
            del self._buffer[:end]
        return frames


def _decoded(data: bytes) -> Frame:
    try:
        message = marshal.loads(data)
    except (EOFError, ValueError, TypeError) as exc:
        raise FrameError(f"undecodable frame: {exc}") from exc
    if not isinstance(message, tuple) or len(message) < 2 or not isinstance(message[0], int):
        raise FrameError(f"not a frame: {type(message).__name__}")
    return message

"""Splitting a SIP byte stream into messages (RFC 3261 §18.3) and RFC 5626 keep-alives.

Pure and synchronous: bytes are fed in, complete messages and pings come out.  The search
for the end of the header section resumes where the last one stopped, so a peer sending a
header one byte at a time costs linear work, not quadratic.
"""

from __future__ import annotations

import enum
import re

from callbridge.sip.message import MAX_MESSAGE_SIZE

_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t\r]*$", re.I | re.M)
_DIGITS = re.compile(rb"[0-9]{1,10}")
_END_OF_HEAD = b"\r\n\r\n"
PONG = b"\r\n"


class Keepalive(enum.Enum):
    """A double CRLF between messages: RFC 5626 §3.5.1's ping, answered with one CRLF."""

    PING = "ping"


class FramingError(Exception):
    """The stream can no longer be split into messages; the connection must close.

    ``status`` is the response due to a request (400 Bad Request for a Content-Length that
    cannot be used, 513 Message Too Large); ``head`` is the header section as far as it
    was read, from which that response takes its addressing headers."""

    def __init__(self, message: str, *, status: int, head: bytes) -> None:
        super().__init__(message)
        self.status = status
        self.head = head


class StreamFramer:
    """The messages of one TCP stream; ``max_size`` bounds a message and what is buffered."""

    def __init__(self, *, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buffer = bytearray()
        self._scanned = 0  # the end of the header section is not before this offset
        self._max_size = max_size

    @property
    def partial(self) -> bool:
        """Whether part of a message (not just keep-alive CRLFs) is waiting for the rest,
        once :meth:`next` has returned None (it leaves at most 3 bytes of CRLFs)."""
        return len(self._buffer) > 3 or bool(bytes(self._buffer).strip(b"\r\n"))

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next(self) -> bytes | Keepalive | None:
        """The next complete message or ping, or None until more bytes come.

        Raises :class:`FramingError` for an oversized message or an unusable Content-Length.
        """
        buffer = self._buffer
        while buffer[:2] == b"\r\n":
            if buffer[:4] == b"\r\n\r\n":
                del buffer[:4]
                return Keepalive.PING
            if len(buffer) < 4 and _END_OF_HEAD.startswith(bytes(buffer)):
                return None  # maybe the start of a ping
            del buffer[:2]  # a lone CRLF between messages (§7.5)
        end = buffer.find(_END_OF_HEAD, self._scanned)
        if end < 0:
            if len(buffer) > self._max_size:
                raise FramingError(
                    "header section too large", status=513, head=bytes(buffer[: self._max_size])
                )
            self._scanned = max(0, len(buffer) - 3)
            return None
        head = bytes(buffer[:end])
        lengths = _CONTENT_LENGTH.findall(head)
        if len(lengths) > 1 or (lengths and not _DIGITS.fullmatch(lengths[0])):
            raise FramingError("missing or unusable Content-Length", status=400, head=head)
        total = end + 4 + (int(lengths[0]) if lengths else 0)
        if total > self._max_size:
            raise FramingError(f"message of {total} bytes is too large", status=513, head=head)
        if len(buffer) < total:
            self._scanned = end
            return None
        frame = bytes(buffer[:total])
        del buffer[:total]
        self._scanned = 0
        return frame


__all__ = ["PONG", "FramingError", "Keepalive", "StreamFramer"]

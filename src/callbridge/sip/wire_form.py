"""The wire form of a SIP message, checked before aiosipua parses it (RFC 3261 §7): its
size, the empty line after the headers, strict UTF-8, the start line, every header line's
syntax and Content-Length (§18.3).  A malformed message is a :class:`SipParseError`."""

from __future__ import annotations

import re

MAX_MESSAGE_SIZE = 64 * 1024
SIP_VERSION = "SIP/2.0"
TOKEN = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
DIGITS = re.compile(r"^\d{1,10}$")


class SipParseError(ValueError):
    """The bytes are not a well-formed SIP message.

    ``status`` is the response a server should send when the input was a request
    (400, or 505 for an unknown SIP version, 513 for an oversized message).
    """

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def checked_wire_form(data: bytes) -> bytes:
    """``data`` as aiosipua may parse it: leading CRLFs dropped (§7.5), a body longer than
    Content-Length cut (§18.3); raises :class:`SipParseError` for malformed input."""
    if len(data) > MAX_MESSAGE_SIZE:
        raise SipParseError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_SIZE}", status=513)
    data = data.lstrip(b"\r\n")
    head, separator, body = _split_head(data)
    lines = _header_lines(head)
    _check_start_line(lines[0])
    _check_header_syntax(lines[1:])
    length = _check_content_length(_declared_length(lines[1:]), len(body))
    return head + separator + body[:length]


def _split_head(data: bytes) -> tuple[bytes, bytes, bytes]:
    """§7: the header section ends with an empty line (the same split aiosipua makes)."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, body = data.partition(separator)
        if found:
            return head, found, body
    raise SipParseError("no empty line after the headers")


def _header_lines(head: bytes) -> list[str]:
    """Decode strictly: aiosipua would replace invalid UTF-8 silently (§7.3.1 is UTF-8)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("header section is not UTF-8") from exc
    if "\x00" in text:
        raise SipParseError("NUL in header section")
    return text.replace("\r\n", "\n").split("\n")


def _check_start_line(line: str) -> None:
    """§7.1 Request-Line and §7.2 Status-Line, single spaces as the grammar says."""
    if line.startswith("SIP/"):
        version, _, rest = line.partition(" ")
        code, _, _reason = rest.partition(" ")
        _check_version(version)
        if not (len(code) == 3 and code.isdigit() and 100 <= int(code) <= 699):
            raise SipParseError(f"bad status code {code!r}")
        return
    parts = line.split(" ")
    if len(parts) != 3:
        raise SipParseError(f"malformed request line {line[:80]!r}")
    method, uri, version = parts
    if not TOKEN.match(method):
        raise SipParseError(f"bad method {method[:40]!r}")
    scheme, colon, rest = uri.partition(":")
    if not colon or not rest or not TOKEN.match(scheme) or any(ord(c) < 33 for c in uri):
        raise SipParseError(f"bad Request-URI {uri[:80]!r}")
    _check_version(version)


def _check_version(version: str) -> None:
    if version.upper() != SIP_VERSION:
        status = 505 if version.upper().startswith("SIP/") else 400
        raise SipParseError(f"unsupported version {version[:20]!r}", status=status)


def _check_header_syntax(lines: list[str]) -> None:
    """§7.3: every line is ``token HCOLON value`` or a continuation (aiosipua skips others)."""
    for index, line in enumerate(lines):
        if line[:1] in (" ", "\t"):
            if index == 0:
                raise SipParseError("continuation line before any header")
            continue
        name, colon, _ = line.partition(":")
        if not colon or not TOKEN.match(name.rstrip(" \t")):
            raise SipParseError(f"malformed header line {line[:60]!r}")


def _declared_length(lines: list[str]) -> str | None:
    """The Content-Length value (long or compact form, §7.3.3), if exactly one is given."""
    values = [
        line.partition(":")[2]
        for line in lines
        if line.partition(":")[0].strip().lower() in ("content-length", "l")
    ]
    if len(values) > 1:
        raise SipParseError("more than one Content-Length header")
    return values[0] if values else None


def _check_content_length(raw: str | None, body_length: int) -> int:
    """§18.3: how much body to keep; a length the datagram cannot hold is an error."""
    if raw is None:
        return body_length
    value = raw.strip()
    if not DIGITS.match(value):
        raise SipParseError(f"bad Content-Length {raw[:20]!r}")
    if int(value) > body_length:
        raise SipParseError(f"Content-Length {value} exceeds the {body_length}-byte body")
    return int(value)

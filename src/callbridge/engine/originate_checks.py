"""What ``Engine.originate`` refuses before it builds a SIP request: a caller ID, display
name or extra header that would not make a well-formed INVITE (RFC 3261 §25.1 grammar)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from callbridge.engine.routing import RoutingError

# §25.1 user: unreserved / escaped / user-unreserved ("&=+$,;?/"), minus ";?/" which would
# start URI parameters or headers in a From built as sip:USER@HOST.
_USER = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,%]{1,64}")
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]{1,64}")  # §25.1 token (header names)
_MAX_DISPLAY_NAME = 100
_MAX_HEADER_VALUE = 1024
# Headers the engine writes itself: an extra one of these would break the dialog.
_RESERVED = frozenset(
    name.lower()
    for name in (
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Max-Forwards",
        "Content-Length",
        "Content-Type",
        "Route",
        "Record-Route",
        "Authorization",
        "Proxy-Authorization",
    )
)


class InvalidOriginate(RoutingError):
    """A parameter of ``originate`` cannot go into a SIP request as given (so the call
    cannot be placed: callers treat it like any destination that leads nowhere)."""


def check_originate(
    *, caller_id: str, caller_name: str | None, headers: Mapping[str, str] | None
) -> None:
    """Raise :class:`InvalidOriginate` naming the first bad parameter."""
    if not _USER.fullmatch(caller_id):
        raise InvalidOriginate(f"caller ID {caller_id[:80]!r} is not a SIP user part")
    if caller_name is not None and not _display_name_ok(caller_name):
        raise InvalidOriginate(f"caller name {caller_name[:80]!r} cannot be a display name")
    for name, value in (headers or {}).items():
        if not _TOKEN.fullmatch(name) or name.lower() in _RESERVED:
            raise InvalidOriginate(f"header {name[:80]!r} may not be added")
        if len(value) > _MAX_HEADER_VALUE or not _printable(value):
            raise InvalidOriginate(f"header {name!r} has an invalid value")


def _display_name_ok(name: str) -> bool:
    return len(name) <= _MAX_DISPLAY_NAME and _printable(name) and '"' not in name


def _printable(text: str) -> bool:
    """No control characters (CR and LF above all: they would inject headers)."""
    return all(ch == "\t" or (ord(ch) >= 0x20 and ord(ch) != 0x7F) for ch in text)


def usable_caller_id(user: str | None) -> str:
    """``user`` (e.g. an inbound caller's) if it can be a caller ID, else ``anonymous``."""
    return user if user is not None and _USER.fullmatch(user) else "anonymous"


def usable_display_name(name: str | None) -> str | None:
    return name if name is not None and _display_name_ok(name) else None

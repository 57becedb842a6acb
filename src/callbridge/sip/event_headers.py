"""The headers of SIP-specific event notification (RFC 6665 §8.2): Event, Expires of a
SUBSCRIBE, Accept, Subscription-State.  Pure functions; malformed input raises
:class:`~callbridge.sip.message.SipParseError` (the request gets 400)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from aiosipua import SipRequest

from callbridge.sip.message import SipParseError

MAX_EXPIRES_VALUE = 2**32 - 1  # RFC 3261 §20.19: delta-seconds
_TOKEN = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_DIGITS = re.compile(r"^\d{1,10}$")


class TerminationReason(StrEnum):
    """RFC 6665 §4.1.3 reasons a notifier gives in ``Subscription-State: terminated``."""

    TIMEOUT = "timeout"  # expired, or the subscriber unsubscribed (Expires: 0)
    REJECTED = "rejected"  # no longer allowed (here: replaced by newer ones over the cap)
    NORESOURCE = "noresource"  # the state it watched no longer exists
    DEACTIVATED = "deactivated"  # the notifier stops (the subscriber may subscribe again)


@dataclass(frozen=True)
class EventHeader:
    """``Event: package;id=...``: the package and the subscription's id, if any."""

    package: str
    id: str | None = None


def parse_event(request: SipRequest) -> EventHeader | None:
    """The request's Event header (long or compact ``o`` form); None when it has none."""
    values = request.get_header_values("event") + request.get_header_values("o")
    if not values:
        return None
    if len(values) > 1:
        raise SipParseError("more than one Event header")
    package, *params = (part.strip() for part in values[0].split(";"))
    if not _TOKEN.match(package):
        raise SipParseError(f"bad Event package {package[:40]!r}")
    event_id = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "id":
            event_id = value.strip()
            if not _TOKEN.match(event_id):
                raise SipParseError(f"bad Event id {event_id[:40]!r}")
    return EventHeader(package=package.lower(), id=event_id)


def event_value(event: EventHeader) -> str:
    """The Event header of a NOTIFY, echoing the SUBSCRIBE's package and id (§8.2.1)."""
    return event.package + (f";id={event.id}" if event.id is not None else "")


def requested_expires(request: SipRequest, *, default: int) -> int:
    """The duration a SUBSCRIBE asks for (§4.1.2.1): its Expires, else the package's default."""
    values = request.get_header_values("expires")
    if not values:
        return default
    if len(values) > 1:
        raise SipParseError("more than one Expires header")
    raw = values[0].strip()
    if not _DIGITS.match(raw):
        raise SipParseError(f"bad Expires {raw[:20]!r}")
    return min(int(raw), MAX_EXPIRES_VALUE)


def accepts(request: SipRequest, content_type: str) -> bool:
    """Whether the request's Accept headers allow ``content_type`` (no Accept: yes, §8.2.1's
    default is the package's own type)."""
    values = request.get_header_values("accept")
    if not values:
        return True
    main, _, sub = content_type.lower().partition("/")
    for value in values:
        for item in value.split(","):
            media_range = item.split(";", 1)[0].strip().lower()
            if media_range in (f"{main}/{sub}", f"{main}/*", "*/*"):
                return True
    return False


def active_state(expires: int) -> str:
    """``Subscription-State`` of a subscription that goes on for ``expires`` more seconds."""
    return f"active;expires={max(0, expires)}"


def terminated_state(reason: TerminationReason) -> str:
    return f"terminated;reason={reason.value}"


__all__ = [
    "EventHeader",
    "TerminationReason",
    "accepts",
    "active_state",
    "event_value",
    "parse_event",
    "requested_expires",
    "terminated_state",
]

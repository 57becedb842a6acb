"""The values an API hands to the call service: what to call and whom to tell."""

from __future__ import annotations

from dataclasses import dataclass

from callbridge.webhooks.params import DEFAULT_EVENTS, CallbackEvent


@dataclass(frozen=True, kw_only=True)
class StatusCallback:
    """Where a call's progress events go (seed-001 ``statusCallback*``, ``secretKey``,
    ``optional``)."""

    url: str
    method: str = "POST"
    events: tuple[CallbackEvent, ...] = DEFAULT_EVENTS
    secret_key: str | None = None
    optional: str | None = None


@dataclass(frozen=True, kw_only=True)
class OutboundCallRequest:
    """One outbound call, validated by the dialect that parsed it.

    ``to`` and ``from_`` are a number, an extension or a SIP URI.  With ``url`` the voice
    application there runs when ``to`` answers; without it, ``from_`` is called next and the
    two are bridged (click to call)."""

    api_key_id: str | None
    to: str
    from_: str
    caller_name: str | None = None
    url: str | None = None
    method: str = "POST"
    send_digits: str | None = None
    status_callback: StatusCallback | None = None
    ring_timeout: float = 60.0
    record: bool = False


def caller_id_user(address: str) -> str:
    """The user part to put in From for ``address`` (a number, an extension or a SIP URI):
    ``sip:agent@host`` → ``agent``."""
    if address.lower().startswith(("sip:", "sips:")):
        user = address.split(":", 1)[1].split("@", 1)[0] if "@" in address else ""
        return user.split(";", 1)[0] or "anonymous"
    return address or "anonymous"

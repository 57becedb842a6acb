"""NumberControl: what a number under call control is configured with."""

from __future__ import annotations

from dataclasses import dataclass

from callbridge.calls.control.credentials import AuthorizedUrl
from callbridge.calls.control.plan import Plan

DEFAULT_RETRIES = 3
RETRY_PAUSE = 0.1  # seconds between two control attempts (seed-004: "100ms")
DEFAULT_CONTROL_TIMEOUT = 3.0


@dataclass(frozen=True, kw_only=True)
class NumberControl:
    """``control`` is asked for each call (``None``: the number is not under call control,
    only notified); ``retries`` further attempts ``RETRY_PAUSE`` apart, each given
    ``timeout`` seconds; then ``backup`` runs (``None``: the caller gets 500).
    ``announcement`` plays before the answer is processed; ``mailbox`` takes Forward's
    voicemail."""

    number: str
    control: AuthorizedUrl | None = None
    retries: int = DEFAULT_RETRIES
    timeout: float = DEFAULT_CONTROL_TIMEOUT
    notify: AuthorizedUrl | None = None
    announcement: str | None = None
    backup: Plan | None = None
    mailbox: str | None = None

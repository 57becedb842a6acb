"""Validation of the ``[[numbers]]`` keys of call control and notify (seed-004):
``control_url``, ``control_retries``, ``control_timeout``, ``notify_url``, ``announcement``,
``backup``, ``mailbox``.  Errors never show a URL (it may hold a password)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from callbridge.calls.control.credentials import authorized_url
from callbridge.calls.control.plan import Plan, PlanError
from callbridge.calls.control.plan_parser import parse_plan
from callbridge.calls.control.settings import NumberControl

MAX_CONTROL_RETRIES = 10
_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")


def check_control_url(value: str | None, key: str) -> str | None:
    """An http(s) URL with a host, ``user:pass@`` allowed (never echoed)."""
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"{key} must be an http:// or https:// URL with a host")
    return value


def check_identifier(value: str | None, key: str) -> str | None:
    if value is not None and not _ID.fullmatch(value):
        raise ValueError(f"{key} must be letters, digits, '.', '_' or '-' (at most 64)")
    return value


def check_backup(value: str | None) -> str | None:
    if value is not None:
        try:
            parse_plan(value)
        except PlanError as exc:
            raise ValueError(f"backup is no seed-004 plan: {exc}") from exc
    return value


def number_control(
    *,
    number: str,
    control_url: str | None,
    control_retries: int,
    control_timeout: float,
    notify_url: str | None,
    announcement: str | None,
    backup: str | None,
    mailbox: str | None,
) -> NumberControl | None:
    """The number's call control and notify, or ``None`` when it has neither."""
    if control_url is None and notify_url is None:
        return None
    plan: Plan | None = None if backup is None else parse_plan(backup)
    return NumberControl(
        number=number,
        control=None if control_url is None else authorized_url(control_url),
        retries=control_retries,
        timeout=control_timeout,
        notify=None if notify_url is None else authorized_url(notify_url),
        announcement=announcement,
        backup=plan,
        mailbox=mailbox,
    )

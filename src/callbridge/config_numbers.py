"""[[lines]] (seed-003's lines: users and numbers rung at once, then a forward) and
[[numbers]] (the numbers calls from trunks reach, and where each goes)."""

from __future__ import annotations

import re

from pydantic import Field, ValidationInfo, field_validator, model_validator

from callbridge.calls.inbound.number_match import normalized_number
from callbridge.config_control import (
    MAX_CONTROL_RETRIES,
    check_backup,
    check_control_url,
    check_identifier,
)
from callbridge.config_values import Section, check_external

LINE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


MAX_LINE_SECONDS = 600.0


class LineSection(Section):
    """A line (seed-003): rings ``users`` and ``numbers`` at once for ``ring_timeout``
    seconds, then ``forward_to`` for ``forward_timeout``; ``number`` is the caller ID a client
    sees when the line calls out; ``api_keys`` names the keys that may use it (empty: all)."""

    id: str
    name: str | None = Field(default=None, min_length=1, max_length=200)
    users: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    ring_timeout: float = Field(default=20.0, gt=0, le=MAX_LINE_SECONDS, allow_inf_nan=False)
    forward_to: str | None = None
    forward_timeout: float = Field(default=30.0, gt=0, le=MAX_LINE_SECONDS, allow_inf_nan=False)
    number: str | None = None
    api_keys: tuple[str, ...] = ()

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not LINE_ID.fullmatch(value):
            raise ValueError("line id must be 1 to 64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("numbers")
    @classmethod
    def _numbers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_external(each) for each in value)

    @field_validator("forward_to", "number")
    @classmethod
    def _external(cls, value: str | None) -> str | None:
        return None if value is None else check_external(value)

    @model_validator(mode="after")
    def _rings_someone(self) -> LineSection:
        if not (self.users or self.numbers or self.forward_to):
            raise ValueError(f"line {self.id!r} needs users, numbers or forward_to")
        return self

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def external_numbers(self) -> tuple[str, ...]:
        """The numbers it dials through the default trunk (not SIP URIs)."""
        targets = (*self.numbers, *((self.forward_to,) if self.forward_to else ()))
        return tuple(t for t in targets if not t.lower().startswith(("sip:", "sips:")))


CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")


def _check_app_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError(f"{value[:64]!r} must be an http:// or https:// URL")
    return value


class NumberSection(Section):
    """A number calls from trunks reach (matched as callbridge.calls.inbound.number_match
    says), routed to exactly one of: a voice application (``voice_url``), a ``user``, a
    ``line`` or ``forward_to`` (a number or SIP URI)."""

    number: str
    voice_url: str | None = None
    voice_method: str = "POST"
    user: str | None = None
    line: str | None = None
    forward_to: str | None = None
    queue: str | None = None  # a [[queues]] id: callers wait in it
    status_callback: str | None = None
    status_callback_event: str = "completed"
    api_key: str | None = None  # an [[api_keys]] name: signs, and may see, these calls
    # Call control and notify (seed-004; callbridge.config_control validates them).
    control_url: str | None = None
    control_retries: int = Field(default=3, ge=0, le=MAX_CONTROL_RETRIES)
    control_timeout: float = Field(default=3.0, ge=0.5, le=30.0)
    notify_url: str | None = None
    announcement: str | None = None
    backup: str | None = None
    mailbox: str | None = None  # a [[mailboxes]] id: its voicemail (alone: the route)
    record: bool = False  # each call recorded from its answer, published as record=true's

    @field_validator("control_url", "notify_url")
    @classmethod
    def _control_urls(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_control_url(value, str(info.field_name))

    @field_validator("announcement", "mailbox")
    @classmethod
    def _ids(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_identifier(value, str(info.field_name))

    @field_validator("backup")
    @classmethod
    def _backup(cls, value: str | None) -> str | None:
        return check_backup(value)

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        if normalized_number(value) is None:
            raise ValueError(f"{value[:40]!r} must be a phone number (e.g. +15550199)")
        return value

    @field_validator("voice_url", "status_callback")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _check_app_url(value)

    @field_validator("voice_method")
    @classmethod
    def _method(cls, value: str) -> str:
        if value.upper() not in ("GET", "POST"):
            raise ValueError("voice_method must be GET or POST")
        return value.upper()

    @field_validator("forward_to")
    @classmethod
    def _forward(cls, value: str | None) -> str | None:
        return None if value is None else check_external(value)

    @field_validator("status_callback_event")
    @classmethod
    def _events(cls, value: str) -> str:
        unknown = sorted(set(value.split()) - set(CALLBACK_EVENTS))
        if unknown or not value.split():
            raise ValueError(f"status_callback_event takes some of {' '.join(CALLBACK_EVENTS)}")
        return value

    @model_validator(mode="after")
    def _one_route(self) -> NumberSection:
        routes = [
            r
            for r in (
                self.voice_url,
                self.user,
                self.line,
                self.forward_to,
                self.queue,
                self.control_url,
            )
            if r
        ]
        if len(routes) > 1 or not (routes or self.mailbox):
            raise ValueError(
                f"number {self.number!r} needs exactly one of voice_url, user, line, "
                "forward_to, queue, control_url (or only a mailbox)"
            )
        if self.voice_url and self.api_key is None:
            raise ValueError(f"number {self.number!r}: a voice_url needs an api_key")
        return self

    @property
    def normalized(self) -> str:
        return normalized_number(self.number) or ""

"""The voicemail sections of the configuration: ``[[mailboxes]]`` and ``[smtp]``.

Every key is documented in README.md ("Configuration" and "Voicemail").
"""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.utils import parseaddr

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_EMAIL = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def check_email(value: str) -> str:
    if _EMAIL.fullmatch(value) is None:
        raise ValueError(f"{value[:80]!r} is not an e-mail address (user@host)")
    return value


class MailboxSection(_Section):
    """A mailbox: who gets its messages by mail, its greeting, its longest message, and
    whose phones show message waiting."""

    id: str
    email: tuple[str, ...] = ()
    announcement: str | None = None  # an [[announcements]] id; None: the built-in sentence
    max_seconds: float = Field(default=120.0, ge=1, le=3600, allow_inf_nan=False)
    users: tuple[str, ...] = ()
    as_attachment: bool = False  # mail the MP3 rather than a link (a deposit may say otherwise)
    api_keys: tuple[str, ...] = ()  # [[api_keys]] names that see its messages; empty: every key

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if _ID.fullmatch(value) is None:
            raise ValueError("a mailbox id is 1-64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("email")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_email(each) for each in value)

    @field_validator("announcement")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value


class SmtpSection(_Section):
    """Where voicemail mail goes out."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    username: str = ""
    password: str = ""
    starttls: bool = False
    tls: bool = False
    from_: str = Field(default="Callbridge <voicemail@localhost>", alias="from")
    timeout: float = Field(default=30.0, gt=0, le=600, allow_inf_nan=False)
    retry_seconds: float = Field(default=30.0, gt=0, le=3600, allow_inf_nan=False)

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        _, address = parseaddr(value)
        check_email(address)
        Address(addr_spec=address)  # raises on what a mail header cannot carry
        return value

    @model_validator(mode="after")
    def _one_tls(self) -> SmtpSection:
        if self.starttls and self.tls:
            raise ValueError("[smtp]: starttls and tls exclude each other (tls: port 465)")
        if bool(self.username) != bool(self.password):
            raise ValueError("[smtp]: username and password go together")
        return self


def check_mailboxes(
    mailboxes: tuple[MailboxSection, ...],
    *,
    extensions: set[str],
    key_names: set[str],
    number_mailboxes: list[str],
) -> None:
    """Mailbox ids unique, their users configured, numbers' mailboxes known."""
    ids = [mailbox.id for mailbox in mailboxes]
    if len(set(ids)) != len(ids):
        raise ValueError("mailbox ids must be unique")
    for mailbox in mailboxes:
        unknown = [user for user in mailbox.users if user not in extensions]
        if unknown:
            raise ValueError(
                f"mailbox {mailbox.id!r}: users {unknown} are not [[users]] extensions"
            )
        unknown = [name for name in mailbox.api_keys if name not in key_names]
        if unknown:
            raise ValueError(
                f"mailbox {mailbox.id!r}: api_keys {unknown} are not [[api_keys]] names"
            )
    for name in number_mailboxes:
        if name not in ids:
            raise ValueError(f"mailbox {name!r} of a [[numbers]] is not a [[mailboxes]] id")

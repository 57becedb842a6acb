"""The one TOML configuration file, validated into frozen pydantic models.

Every key is documented in README.md ("Configuration").  The sections are defined beside
this module (``config_server``, ``config_accounts``, ``config_numbers``, ``config_queues``,
``config_voicemail``, ...); here they are put together and checked against each other.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ConfigDict, ValidationError, model_validator

from callbridge.config_accounts import (
    API_KEY_SCOPES,
    CALLER_ID,
    DEFAULT_SCOPES,
    MIN_SECRET_CHARS,
    ApiKeySection,
    TrunkSection,
    UserSection,
)
from callbridge.config_media_library import AnnouncementSection, check_unique_announcements
from callbridge.config_mwi import MwiSection
from callbridge.config_numbers import (
    CALLBACK_EVENTS,
    LINE_ID,
    MAX_LINE_SECONDS,
    LineSection,
    NumberSection,
)
from callbridge.config_pbx import ContextSection, OriginateUserSection, ProjectSection, check_pbx
from callbridge.config_queues import QueueSection, check_queues
from callbridge.config_server import (
    LOG_LEVELS,
    CallsSection,
    DatabaseSection,
    HttpClientSection,
    HttpSection,
    LogSection,
    MediaSection,
    SipSection,
)
from callbridge.config_values import NUMBER_PREFIX, PHONE_NUMBER, Section, split_host_port
from callbridge.config_voicemail import MailboxSection, SmtpSection, check_mailboxes

__all__ = [
    "API_KEY_SCOPES",
    "CALLBACK_EVENTS",
    "CALLER_ID",
    "DEFAULT_SCOPES",
    "LINE_ID",
    "LOG_LEVELS",
    "MAX_LINE_SECONDS",
    "MIN_SECRET_CHARS",
    "NUMBER_PREFIX",
    "PHONE_NUMBER",
    "AnnouncementSection",
    "ApiKeySection",
    "CallbridgeConfig",
    "CallsSection",
    "ConfigError",
    "ContextSection",
    "DatabaseSection",
    "HttpClientSection",
    "HttpSection",
    "LineSection",
    "LogSection",
    "MailboxSection",
    "MediaSection",
    "MwiSection",
    "NumberSection",
    "OriginateUserSection",
    "ProjectSection",
    "QueueSection",
    "SipSection",
    "SmtpSection",
    "TrunkSection",
    "UserSection",
    "load_config",
    "split_host_port",
]


class ConfigError(Exception):
    """The configuration file is missing, not TOML, or fails validation."""


class CallbridgeConfig(Section):
    # Errors name the bad key and why, never its value: api_keys hold secrets.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    sip: SipSection = SipSection()
    http: HttpSection = HttpSection()
    media: MediaSection = MediaSection()
    database: DatabaseSection = DatabaseSection()
    calls: CallsSection = CallsSection()
    http_client: HttpClientSection = HttpClientSection()
    log: LogSection = LogSection()
    mwi: MwiSection = MwiSection()
    trunks: tuple[TrunkSection, ...] = ()
    users: tuple[UserSection, ...] = ()
    api_keys: tuple[ApiKeySection, ...] = ()
    lines: tuple[LineSection, ...] = ()
    numbers: tuple[NumberSection, ...] = ()
    queues: tuple[QueueSection, ...] = ()
    mailboxes: tuple[MailboxSection, ...] = ()
    smtp: SmtpSection = SmtpSection()
    announcements: tuple[AnnouncementSection, ...] = ()

    @model_validator(mode="after")
    def _announcements(self) -> CallbridgeConfig:
        check_unique_announcements(self.announcements)
        return self

    projects: tuple[ProjectSection, ...] = ()
    originate_users: tuple[OriginateUserSection, ...] = ()
    contexts: tuple[ContextSection, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> CallbridgeConfig:
        if sum(t.default for t in self.trunks) > 1:
            raise ValueError("at most one trunk may be default")
        extensions = [u.extension for u in self.users]
        if len(set(extensions)) != len(extensions):
            raise ValueError("user extensions must be unique")
        names = [t.name for t in self.trunks]
        if len(set(names)) != len(names):
            raise ValueError("trunk names must be unique")
        keys = [k.key for k in self.api_keys]
        if len(set(keys)) != len(keys):
            raise ValueError("api_keys keys must be unique")
        key_names = [k.name for k in self.api_keys]
        if len(set(key_names)) != len(key_names):
            raise ValueError("api_keys names must be unique")
        for key in self.api_keys:
            unknown = sorted(set(key.allowed_trunks or ()) - set(names))
            if unknown:
                raise ValueError(
                    f"api key {key.name!r}: allowed_trunks {unknown} are not [[trunks]] names"
                )
        return self

    @model_validator(mode="after")
    def _lines(self) -> CallbridgeConfig:
        ids = [line.id for line in self.lines]
        if len(set(ids)) != len(ids):
            raise ValueError("line ids must be unique")
        extensions = {u.extension for u in self.users}
        key_names = {k.name for k in self.api_keys}
        for line in self.lines:
            unknown_users = [u for u in line.users if u not in extensions]
            if unknown_users:
                raise ValueError(
                    f"line {line.id!r}: users {unknown_users} are not [[users]] extensions"
                )
            unknown_keys = [k for k in line.api_keys if k not in key_names]
            if unknown_keys:
                raise ValueError(
                    f"line {line.id!r}: api_keys {unknown_keys} are not [[api_keys]] names"
                )
            if line.external_numbers and self.default_trunk is None:
                raise ValueError(
                    f"line {line.id!r} dials numbers: that needs a [[trunks]] with default = true"
                )
        return self

    @model_validator(mode="after")
    def _numbers(self) -> CallbridgeConfig:
        seen: set[str] = set()
        extensions = {u.extension for u in self.users}
        lines = {line.id for line in self.lines}
        key_names = {k.name for k in self.api_keys}
        for number in self.numbers:
            name = f"number {number.number!r}"
            if number.normalized in seen:
                raise ValueError(f"{name} is configured twice (after removing + and separators)")
            seen.add(number.normalized)
            if number.user is not None and number.user not in extensions:
                raise ValueError(f"{name}: user {number.user!r} is not a [[users]] extension")
            if number.line is not None and number.line not in lines:
                raise ValueError(f"{name}: line {number.line!r} is not a [[lines]] id")
            if number.queue is not None and number.queue not in {q.id for q in self.queues}:
                raise ValueError(f"{name}: queue {number.queue!r} is not a [[queues]] id")
            if number.api_key is not None and number.api_key not in key_names:
                raise ValueError(f"{name}: api_key {number.api_key!r} is not an [[api_keys]] name")
            forward = number.forward_to
            if forward and not forward.lower().startswith("sip") and self.default_trunk is None:
                raise ValueError(f"{name} forwards to a number: that needs a default [[trunks]]")
        return self

    @model_validator(mode="after")
    def _queues(self) -> CallbridgeConfig:
        check_queues(self.queues, {u.extension for u in self.users})
        return self

    @model_validator(mode="after")
    def _pbx(self) -> CallbridgeConfig:
        check_pbx(
            projects=self.projects,
            originate_users=self.originate_users,
            contexts=self.contexts,
            user_projects=((u.extension, u.project) for u in self.users),
            api_key_names=(k.name for k in self.api_keys),
            queue_projects=((q.id, q.project) for q in self.queues),
        )
        return self

    @model_validator(mode="after")
    def _mailboxes(self) -> CallbridgeConfig:
        check_mailboxes(
            self.mailboxes,
            extensions={u.extension for u in self.users},
            key_names={k.name for k in self.api_keys},
            number_mailboxes=[n.mailbox for n in self.numbers if n.mailbox is not None],
        )
        return self

    @property
    def default_trunk(self) -> TrunkSection | None:
        return next((t for t in self.trunks if t.default), None)


def load_config(path: Path) -> CallbridgeConfig:
    """Read and validate a TOML configuration file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    try:
        return CallbridgeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from exc

"""The PBX model (issue 13): ``[[projects]]``, ``[[originate_users]]`` and ``[[contexts]]``
(and the cross-checks of every ``project`` a user, queue or context names).

A project is the seed-002 ``project_id``: a tenant with its own users, queues and
contexts.  An originate user is the seed's ``api_username``/``api_password`` and the
``key`` appended before the md5 of ``api_hash``; its calls belong to its ``api_key``, send
their status callbacks to its ``status_callback`` and ring for its ring timeouts.  A
context is a named call flow that ``type=context`` runs on the customer's answered leg.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_RING_TIMEOUT = 600.0  # seconds
STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProjectSection(_Section):
    id: int
    name: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, value: int) -> int:
        if value < 1:
            raise ValueError("project id must be a positive integer")
        return value


class OriginateUserSection(_Section):
    """A client of ``/api/originate-call``."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    username: str
    password: str
    key: str
    project: int | None = None  # None: every project
    api_key: str | None = None  # the [[api_keys]] name its stored calls belong to
    status_callback: str | None = None  # where its calls' status callbacks go
    status_callback_method: str = "POST"
    status_callback_event: str = "completed"
    agent_ring_timeout: float = Field(default=30.0, ge=1.0, le=MAX_RING_TIMEOUT)
    customer_ring_timeout: float = Field(default=60.0, ge=1.0, le=MAX_RING_TIMEOUT)

    @field_validator("username", "password", "key")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("status_callback")
    @classmethod
    def _callback(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("status_callback must be an http:// or https:// URL")
        return value

    @field_validator("status_callback_method")
    @classmethod
    def _method(cls, value: str) -> str:
        if value.upper() not in ("GET", "POST"):
            raise ValueError("status_callback_method must be GET or POST")
        return value.upper()

    @field_validator("status_callback_event")
    @classmethod
    def _events(cls, value: str) -> str:
        unknown = sorted(set(value.split()) - set(STATUS_CALLBACK_EVENTS))
        if unknown or not value.split():
            raise ValueError(
                f"status_callback_event takes some of {' '.join(STATUS_CALLBACK_EVENTS)}"
            )
        return value


class ContextSection(_Section):
    name: str
    project: int | None = None  # None: every project
    voice_url: str | None = None
    voice_xml: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value or not set(value) <= NAME_CHARS:
            raise ValueError("context name must be letters, digits, '.', '_' or '-'")
        return value

    @field_validator("voice_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("voice_url must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _one_document(self) -> ContextSection:
        if (self.voice_url is None) == (self.voice_xml is None):
            raise ValueError(f"context {self.name!r} needs exactly one of voice_url, voice_xml")
        return self


def check_pbx(
    *,
    projects: Sequence[ProjectSection],
    originate_users: Sequence[OriginateUserSection],
    contexts: Sequence[ContextSection],
    user_projects: Iterable[tuple[str, int | None]],
    api_key_names: Iterable[str] = (),
    queue_projects: Iterable[tuple[str, int | None]] = (),
) -> None:
    """Cross-checks: unique ids and names, every ``project`` a ``[[projects]]`` id.
    Raises ValueError naming the offender (never a password or key)."""
    ids = [p.id for p in projects]
    if len(set(ids)) != len(ids):
        raise ValueError("project ids must be unique")
    known = set(ids)
    key_names = set(api_key_names)
    for client in originate_users:
        if client.api_key is not None and client.api_key not in key_names:
            raise ValueError(
                f"originate user {client.username!r}: api_key {client.api_key!r} is not an"
                " [[api_keys]] name"
            )
    usernames = [u.username for u in originate_users]
    if len(set(usernames)) != len(usernames):
        raise ValueError("originate_users usernames must be unique")
    names = [(c.project, c.name) for c in contexts]
    if len(set(names)) != len(names):
        raise ValueError("context names must be unique within a project")
    owners: list[tuple[str, int | None]] = [
        *((f"originate user {u.username!r}", u.project) for u in originate_users),
        *((f"context {c.name!r}", c.project) for c in contexts),
        *((f"user {extension!r}", project) for extension, project in user_projects),
        *((f"queue {queue!r}", project) for queue, project in queue_projects),
    ]
    for name, project in owners:
        if project is not None and project not in known:
            raise ValueError(f"{name}: project {project} is not a [[projects]] id")

"""The PBX model (issue 13): ``[[projects]]``, ``[[originate_users]]`` and ``[[contexts]]``.

A project is the seed-002 ``project_id``: a tenant with its own users, queues and
contexts.  An originate user is the seed's ``api_username``/``api_password`` and the
``key`` appended before the md5 of ``api_hash``.  A context is a named call flow that
``type=context`` runs on the customer's answered leg.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

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

    @field_validator("username", "password", "key")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
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
) -> None:
    """Cross-checks: unique ids and names, every ``project`` a ``[[projects]]`` id.
    Raises ValueError naming the offender (never a password or key)."""
    ids = [p.id for p in projects]
    if len(set(ids)) != len(ids):
        raise ValueError("project ids must be unique")
    known = set(ids)
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
    ]
    for name, project in owners:
        if project is not None and project not in known:
            raise ValueError(f"{name}: project {project} is not a [[projects]] id")

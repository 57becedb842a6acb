"""A client of ``/api/originate-call`` ([[originate_users]]): what it may do."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class OriginateClient:
    username: str
    password: str
    key: str
    project: int | None  # None: every project
    api_key_id: str | None = None  # the API key its stored calls belong to

    def may_use(self, project_id: int) -> bool:
        return self.project is None or self.project == project_id

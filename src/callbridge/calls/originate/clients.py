"""A client of ``/api/originate-call`` ([[originate_users]]): what it may do, and how its
calls are made."""

from __future__ import annotations

from dataclasses import dataclass

from callbridge.calls.request import StatusCallback

AGENT_RING_TIMEOUT = 30.0
CUSTOMER_RING_TIMEOUT = 60.0


@dataclass(frozen=True, kw_only=True)
class OriginateClient:
    username: str
    password: str
    key: str
    project: int | None  # None: every project
    api_key_id: str | None = None  # the API key its stored calls belong to
    status_callback: StatusCallback | None = None  # where its calls' status callbacks go
    agent_ring_timeout: float = AGENT_RING_TIMEOUT  # type=user: the agent's phones ring
    customer_ring_timeout: float = CUSTOMER_RING_TIMEOUT

    def may_use(self, project_id: int) -> bool:
        return self.project is None or self.project == project_id

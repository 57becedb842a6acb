"""What an ``/api/originate-call`` asks for, and the refusals it can get (in the seed's
wording: each message is shown to the CRM's user as it is)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class OriginateType(StrEnum):
    USER = "user"
    QUEUE = "queue"
    CONTEXT = "context"


class OriginateRefused(Exception):
    """The request is refused; ``messages`` say why, one line each."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = tuple(messages)


@dataclass(frozen=True, kw_only=True)
class OriginateRequest:
    project_id: int
    caller_id: str  # the customer's number
    caller_id_name: str  # the customer's name, shown on the agent's phone
    type: OriginateType
    destination: str  # a user's extension, a queue id or a context name
    external_id: str
    wait: bool = False  # async=0: the reply waits for the agent's answer
    outbound_number: str | None = None  # shown to the customer
    outbound_trunk: str | None = None  # None: the default trunk
    vars: Mapping[str, str] = field(default_factory=dict)

    @property
    def backend_link(self) -> str | None:
        return self.vars.get("BACKEND_LINK") or None


def originated_message(request: OriginateRequest) -> str:
    return f"Call successfully originated for {request.type}: {request.destination}"

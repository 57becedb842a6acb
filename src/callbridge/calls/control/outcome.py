"""What running a plan came to, in seed-004's hangup types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from callbridge.calls.control.notify import HangupType


@dataclass(frozen=True, kw_only=True)
class PlanOutcome:
    kind: HangupType
    detail: str = ""


class Timeline(Protocol):
    """The call's events (``GET /api/v2/calls/{sid}``): the call tracker's note."""

    async def note(self, name: str, data: Mapping[str, Any]) -> None: ...


class Accepted(Protocol):
    """Called when a target (or a queue's member) answers: ``peer`` is who."""

    async def __call__(self, peer: str) -> None: ...

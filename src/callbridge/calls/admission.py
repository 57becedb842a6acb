"""Admission: whether a new call may start now (an API key's limits, load shedding, a
server shutting down), and the permit it holds until it has ended."""

from __future__ import annotations

from typing import Protocol


class Permit(Protocol):
    def release(self) -> None: ...


class Admission(Protocol):
    """Admits a new call for an API key or raises ``CallLimitReached`` (a limit of the key)
    or ``ServerOverloaded``."""

    def admit(self, api_key_id: str | None) -> Permit: ...

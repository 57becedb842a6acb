"""``[[queues]]``: call queues (callbridge.calls.queues), validated.  README.md documents
every key."""

from __future__ import annotations

import re

from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, field_validator

QUEUE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
STRATEGIES = ("ringall", "roundrobin", "leastrecent", "fewestcalls", "random", "linear")
MAX_QUEUE_SECONDS = 86_400.0
MAX_OVERFLOW_CHARS = 64 * 1024


class QueueSection(BaseModel):
    """One queue: its ``members`` (extensions) are rung by ``strategy`` for callers who
    wait with music and position announcements; ``max_wait`` or no member logged in runs
    ``overflow`` (a seed-004 XML plan)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    project: int | None = Field(default=None, ge=1)
    strategy: str = "ringall"
    members: tuple[str, ...] = Field(min_length=1)
    member_timeout: float = Field(default=15.0, gt=0, le=600, allow_inf_nan=False)
    wrapup: float = Field(default=5.0, ge=0, le=3600, allow_inf_nan=False)
    max_wait: float = Field(default=300.0, gt=0, le=MAX_QUEUE_SECONDS, allow_inf_nan=False)
    overflow: str | None = Field(default=None, min_length=1, max_length=MAX_OVERFLOW_CHARS)
    announce_position_every: float = Field(default=30.0, ge=0, le=3600, allow_inf_nan=False)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not QUEUE_ID.fullmatch(value):
            raise ValueError("queue id must be 1 to 64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str) -> str:
        if value not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
        return value

    @field_validator("members")
    @classmethod
    def _members(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("members must not repeat")
        return value

    @field_validator("overflow")
    @classmethod
    def _overflow(cls, value: str | None) -> str | None:
        if value is not None:
            check_plan_xml(value)
        return value


def check_plan_xml(text: str) -> None:
    """A well-formed XML document whose root is ``<Response>`` (seed-004's plans); parsed
    with defusedxml (no entities, no DTD)."""
    try:
        root = fromstring(text)
    except Exception as exc:  # ParseError, or defusedxml's refusals (entities, DTD)
        raise ValueError(f"overflow is not well-formed XML: {exc}") from exc
    if root.tag != "Response":
        raise ValueError("overflow must be a <Response> document (seed-004)")


def check_queues(queues: tuple[QueueSection, ...], extensions: set[str]) -> None:
    """Unique ids; members are ``[[users]]`` extensions."""
    ids = [queue.id for queue in queues]
    if len(set(ids)) != len(ids):
        raise ValueError("queue ids must be unique")
    for queue in queues:
        unknown = [m for m in queue.members if m not in extensions]
        if unknown:
            raise ValueError(f"queue {queue.id!r}: members {unknown} are not [[users]] extensions")

"""A call-control plan (seed-004's XML answer) as values."""

from __future__ import annotations

import enum
from dataclasses import dataclass

DEFAULT_RINGTIME = 60.0


class PlanError(ValueError):
    """The answer is no usable plan (invalid XML, an unknown element, a bad attribute)."""


@dataclass(frozen=True, kw_only=True)
class ForwardTarget:
    """Numbers rung at once for ``ringtime`` seconds: extensions, external numbers (the
    default trunk) or ``user@host`` SIP addresses."""

    numbers: tuple[str, ...]
    ringtime: float = DEFAULT_RINGTIME


@dataclass(frozen=True, kw_only=True)
class Forward:
    targets: tuple[ForwardTarget, ...] = ()
    music_on_hold: bool = False
    voicemail: bool = True
    voicemail_announcement: str | None = None
    voicemail_as_attachment: bool = False
    forward_announcement: str | None = None


class RejectReason(enum.Enum):
    DECLINE = "decline"  # 603
    BUSY = "busy"  # 486


@dataclass(frozen=True, kw_only=True)
class Reject:
    reason: RejectReason = RejectReason.DECLINE


@dataclass(frozen=True, kw_only=True)
class Hangup:
    pass


@dataclass(frozen=True, kw_only=True)
class Queue:
    queue_id: str


Plan = Forward | Reject | Hangup | Queue


def plan_name(plan: Plan) -> str:
    """The plan's element name, as the call's events show it."""
    return type(plan).__name__

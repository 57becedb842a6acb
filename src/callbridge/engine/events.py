"""Call-leg lifecycle: states, the one guarded transition, and the events legs emit.

``EndReason``, ``Party`` and the SIP status mappings live in :mod:`callbridge.vocabulary`
(re-exported here)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from callbridge.sip.dialog import DialogSnapshot as DialogSnapshot  # part of Answered
from callbridge.vocabulary import EndReason as EndReason
from callbridge.vocabulary import Party as Party
from callbridge.vocabulary import reason_for_sip_status, sip_status_for_reason

# The engine's names of the SIP status mappings (one definition: the vocabulary's).
reason_for_status = reason_for_sip_status
status_for_reason = sip_status_for_reason


class LegState(Enum):
    INITIAL = "initial"
    TRYING = "trying"
    RINGING = "ringing"
    EARLY_MEDIA = "early_media"
    ANSWERED = "answered"
    ENDED = "ended"


_ALLOWED: dict[LegState, frozenset[LegState]] = {
    LegState.INITIAL: frozenset({LegState.TRYING, LegState.ENDED}),
    LegState.TRYING: frozenset(
        {LegState.RINGING, LegState.EARLY_MEDIA, LegState.ANSWERED, LegState.ENDED}
    ),
    LegState.RINGING: frozenset({LegState.EARLY_MEDIA, LegState.ANSWERED, LegState.ENDED}),
    LegState.EARLY_MEDIA: frozenset({LegState.RINGING, LegState.ANSWERED, LegState.ENDED}),
    LegState.ANSWERED: frozenset({LegState.ENDED}),
    LegState.ENDED: frozenset(),
}


class InvalidTransition(Exception):
    """A leg was asked to move to a state its lifecycle does not allow from where it is."""


def transition(current: LegState, new: LegState) -> LegState:
    """The only way a leg changes state."""
    if new not in _ALLOWED[current]:
        raise InvalidTransition(f"{current.value} -> {new.value}")
    return new


class Direction(Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


@dataclass(frozen=True)
class Trying:
    pass


@dataclass(frozen=True)
class Ringing:
    pass


@dataclass(frozen=True)
class EarlyMedia:
    pass


@dataclass(frozen=True)
class Answered:
    """The leg is answered; ``dialog`` is its confirmed dialog, for a later run of the
    server to end if this one dies first (``None``: not known)."""

    dialog: DialogSnapshot | None = None


@dataclass(frozen=True)
class Ended:
    reason: EndReason
    by: Party
    sip_code: int | None = None
    detail: str = ""


LegEvent = Trying | Ringing | EarlyMedia | Answered | Ended


class LegEndedError(Exception):
    """An operation needed a live leg, and it has ended."""

    def __init__(self, ended: Ended) -> None:
        super().__init__(f"leg ended: {ended.reason.value} ({ended.sip_code})")
        self.ended = ended

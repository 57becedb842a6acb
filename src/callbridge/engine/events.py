"""Call-leg lifecycle: states, the one guarded transition, and the events legs emit."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from callbridge.sip.dialog import DialogSnapshot as DialogSnapshot  # part of Answered


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


class EndReason(Enum):
    """Why a leg ended; maps from SIP final responses (RFC 3261 §21)."""

    HUNG_UP = "hung_up"  # ended after it was answered
    BUSY = "busy"  # 486, 600
    NO_ANSWER = "no_answer"  # our ring timeout, 480, 408 from the callee's side
    DECLINED = "declined"  # 603
    CANCELLED = "cancelled"  # the caller gave up before an answer (487 / CANCEL)
    OFFLINE = "offline"  # an extension with no registered contact
    UNREACHABLE = "unreachable"  # transaction timeout (our 408), transport error
    FAILED = "failed"  # any other failure
    RTP_TIMEOUT = "rtp_timeout"  # answered, and the peer sent no RTP for [media] rtp_timeout
    SESSION_EXPIRED = "session_expired"  # RFC 4028: no session refresh in time, or it failed


class Party(Enum):
    LOCAL = "local"  # this server (or the application driving it) ended the leg
    REMOTE = "remote"  # the peer ended it


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


def reason_for_status(status: int) -> EndReason:
    """The end reason of an outbound leg that got final ``status`` before an answer."""
    if status in (486, 600):
        return EndReason.BUSY
    if status in (480, 408):
        return EndReason.NO_ANSWER
    if status == 603:
        return EndReason.DECLINED
    if status == 487:
        return EndReason.CANCELLED
    return EndReason.FAILED


def status_for_reason(reason: EndReason) -> int:
    """The final response an inbound leg gets when it ends, unanswered, for ``reason``."""
    return {
        EndReason.BUSY: 486,
        EndReason.NO_ANSWER: 480,
        EndReason.DECLINED: 603,
        EndReason.CANCELLED: 487,
        EndReason.OFFLINE: 480,
        EndReason.UNREACHABLE: 408,
        EndReason.FAILED: 500,
        EndReason.HUNG_UP: 480,
        EndReason.RTP_TIMEOUT: 408,
        EndReason.SESSION_EXPIRED: 408,
    }[reason]


class LegEndedError(Exception):
    """An operation needed a live leg, and it has ended."""

    def __init__(self, ended: Ended) -> None:
        super().__init__(f"leg ended: {ended.reason.value} ({ended.sip_code})")
        self.ended = ended

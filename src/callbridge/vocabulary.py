"""The call vocabulary, in one place: a call's status and its guarded changes, why a leg
ended and who ended it, the status-callback event names, and every mapping between them
(final status, SIP status both ways, Dial status, the final response of a caller nobody
answered — after a Dial, or calling an extension or a number itself: :func:`unanswered`,
and the one order it decides by, which also picks the end a group of legs nobody answered
saves: :func:`unanswered_rank` — ``CallOutcome``/``SipResponseCode``).

A leaf: it imports nothing of callbridge, so the engine, the store, webhooks, calls and
the API all speak it without an arrow pointing up.  ``CallStatus`` and ``CallbackEvent``
are ``StrEnum``s: a member is its string (the database column, JSON and form parameters
see the same text as before).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum


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


class CallStatus(StrEnum):
    """A call's status (Twilio's, which the seed's platform follows)."""

    QUEUED = "queued"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"


# The statuses a call ends in: also the values of ``CallOutcome`` and of ``DialCallStatus``.
FINAL_STATUSES = frozenset(
    {
        CallStatus.COMPLETED,
        CallStatus.BUSY,
        CallStatus.NO_ANSWER,
        CallStatus.FAILED,
        CallStatus.CANCELED,
    }
)

_STATUS_CHANGES: dict[CallStatus, frozenset[CallStatus]] = {
    CallStatus.QUEUED: frozenset({CallStatus.RINGING, CallStatus.IN_PROGRESS}) | FINAL_STATUSES,
    CallStatus.RINGING: frozenset({CallStatus.IN_PROGRESS}) | FINAL_STATUSES,
    CallStatus.IN_PROGRESS: frozenset({CallStatus.COMPLETED}),  # answered: always completed
    **{final: frozenset() for final in FINAL_STATUSES},
}


class InvalidStatusChange(Exception):
    """A call was asked to move to a status its lifecycle does not allow from where it is."""


def change_status(current: CallStatus, new: CallStatus) -> CallStatus:
    """The only way a call changes status: ``new``, or :class:`InvalidStatusChange`."""
    if new not in _STATUS_CHANGES[current]:
        raise InvalidStatusChange(f"{current.value} -> {new.value}")
    return new


class CallbackEvent(StrEnum):
    """The status-callback events (``statusCallbackEvent``); each is also the name of the
    call's event it comes from, and its callback's ``CallStatus``."""

    INITIATED = "initiated"
    RINGING = "ringing"
    ANSWERED = "answered"
    COMPLETED = "completed"


DEFAULT_EVENTS = (CallbackEvent.COMPLETED,)

# The final status of a call that ended unanswered, per end reason (an answered call is
# completed whatever ended it).
_UNANSWERED_STATUS: dict[EndReason, CallStatus] = {
    EndReason.HUNG_UP: CallStatus.COMPLETED,
    EndReason.BUSY: CallStatus.BUSY,
    EndReason.NO_ANSWER: CallStatus.NO_ANSWER,
    EndReason.DECLINED: CallStatus.BUSY,
    EndReason.CANCELLED: CallStatus.CANCELED,
    EndReason.OFFLINE: CallStatus.FAILED,
    EndReason.UNREACHABLE: CallStatus.FAILED,
    EndReason.FAILED: CallStatus.FAILED,
    EndReason.RTP_TIMEOUT: CallStatus.FAILED,  # only answered legs time out (then: completed)
    EndReason.SESSION_EXPIRED: CallStatus.FAILED,
}

# The final response an inbound leg gets when it ends, unanswered, per end reason.
_UNANSWERED_SIP_STATUS: dict[EndReason, int] = {
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
}

# A Dial target that did not answer, per end reason: a target the ringer cancelled (its
# group's ring time ran out) rang out (no-answer), not canceled (that is the caller's).
_DIAL_STATUS: dict[EndReason, CallStatus] = {
    EndReason.HUNG_UP: CallStatus.COMPLETED,
    EndReason.BUSY: CallStatus.BUSY,
    EndReason.DECLINED: CallStatus.BUSY,
    EndReason.NO_ANSWER: CallStatus.NO_ANSWER,
    EndReason.CANCELLED: CallStatus.NO_ANSWER,
    EndReason.OFFLINE: CallStatus.FAILED,
    EndReason.UNREACHABLE: CallStatus.FAILED,
    EndReason.FAILED: CallStatus.FAILED,
    EndReason.RTP_TIMEOUT: CallStatus.FAILED,
    EndReason.SESSION_EXPIRED: CallStatus.FAILED,
}

# The leg end a Dial status stands for (a line nobody answered ends its leg so).
_REASON_OF_DIAL_STATUS: dict[CallStatus, EndReason] = {
    CallStatus.COMPLETED: EndReason.HUNG_UP,
    CallStatus.BUSY: EndReason.BUSY,
    CallStatus.NO_ANSWER: EndReason.NO_ANSWER,
    CallStatus.CANCELED: EndReason.CANCELLED,
    CallStatus.FAILED: EndReason.FAILED,
}

# Reasons that are failures even after an answer (an application error, a lost peer).
FAILURES = frozenset({EndReason.FAILED, EndReason.UNREACHABLE, EndReason.OFFLINE})


def final_status(reason: EndReason, *, answered: bool) -> CallStatus:
    """The status a call ends in: an answered call is ``completed`` whatever ended it."""
    return CallStatus.COMPLETED if answered else _UNANSWERED_STATUS[reason]


def sip_status_for_reason(reason: EndReason) -> int:
    """The final response an inbound leg gets when it ends, unanswered, for ``reason``."""
    return _UNANSWERED_SIP_STATUS[reason]


def reason_for_sip_status(status: int) -> EndReason:
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


@dataclass(frozen=True, kw_only=True)
class Unanswered:
    """How a caller's leg still unanswered ends when nobody it was rung for answered:
    ``reason`` (its end, and ``CallOutcome``) and the final ``sip_code`` it gets."""

    reason: EndReason
    sip_code: int


@dataclass(frozen=True, kw_only=True)
class TargetEnd:
    """How one target nobody answered ended: ``reason``, and the final response it sent
    (``sip_code``; ``None``: none came).  :meth:`not_dialled` for a target that could not
    be dialled at all."""

    reason: EndReason
    sip_code: int | None = None

    @classmethod
    def not_dialled(cls, *, offline: bool) -> TargetEnd:
        """A target the switch could not dial: a user with no phone registered (480), or
        one no route leads to, ending as a proxy with no route answers it (404)."""
        if offline:
            return cls(reason=EndReason.OFFLINE, sip_code=480)
        return cls(reason=EndReason.FAILED, sip_code=404)


# Why nobody answered, in order of precedence (as a forking proxy picks the best response,
# RFC 3261 §16.7, in spirit: the answer that tells the caller most wins): any busy target
# → 486, else any decline → 603, else any rung out → 480 (a target that rang out on its own
# before one the ringer cancelled when its ring time ran out: the same answer, told
# first-hand), else an offline user → 480, else a target that failed (an error response,
# not routable) → 502 Bad Gateway, else every target unreachable (no response, transport
# error) → 504 Server Time-out.  Nothing rung at all (every target refused): 502.
_UNANSWERED: tuple[tuple[frozenset[EndReason], Unanswered], ...] = (
    (frozenset({EndReason.BUSY}), Unanswered(reason=EndReason.BUSY, sip_code=486)),
    (frozenset({EndReason.DECLINED}), Unanswered(reason=EndReason.DECLINED, sip_code=603)),
    (frozenset({EndReason.NO_ANSWER}), Unanswered(reason=EndReason.NO_ANSWER, sip_code=480)),
    (frozenset({EndReason.CANCELLED}), Unanswered(reason=EndReason.NO_ANSWER, sip_code=480)),
    (frozenset({EndReason.OFFLINE}), Unanswered(reason=EndReason.OFFLINE, sip_code=480)),
    (
        # Failed, or a reason no unanswered target should end for (it is a failure then).
        frozenset(
            {
                EndReason.FAILED,
                EndReason.HUNG_UP,
                EndReason.RTP_TIMEOUT,
                EndReason.SESSION_EXPIRED,
            }
        ),
        Unanswered(reason=EndReason.FAILED, sip_code=502),
    ),
    (
        frozenset({EndReason.UNREACHABLE}),
        Unanswered(reason=EndReason.UNREACHABLE, sip_code=504),
    ),
)
_NOTHING_DIALLED = Unanswered(reason=EndReason.FAILED, sip_code=502)
# Where each reason stands in that order (lower speaks first).
_PRECEDENCE: dict[EndReason, int] = {
    reason: rank for rank, (group, _) in enumerate(_UNANSWERED) for reason in group
}

# A relayed target's own final response the caller must not get: a challenge (401, 407)
# asks for the credentials this server holds for the target's trunk, not the caller's.
_NOT_RELAYED = frozenset({401, 407})


def unanswered_rank(end: TargetEnd) -> tuple[int, int, int]:
    """Where ``end`` stands among the ends of targets nobody answered (lower first): the
    one order deciding which of them speaks for them all, here (:func:`unanswered`) and
    for the end saved on a leg that rang a group (``calls.switch.group_failure``).  By
    reason, as above; among equals, by the final response a proxy would pass on (§16.7:
    a 6xx, else the lowest class, a response that may not be passed on last).  Equal
    ranks: the first target's end speaks (``min`` keeps the first)."""
    code = _passed_on(end.sip_code)
    response = (2, 0) if code is None else (0 if code >= 600 else 1, code // 100)
    return (_PRECEDENCE[end.reason], *response)


def _passed_on(code: int | None) -> int | None:
    """``code``, when a proxy may pass it on as its own final response (a 4xx-6xx that
    is no challenge), else ``None``."""
    if code is None or not 400 <= code < 700 or code in _NOT_RELAYED:
        return None
    return code


def unanswered(target_ends: Iterable[TargetEnd], *, relayed: bool) -> Unanswered:
    """How the caller's unanswered leg ends when the targets it was rung for (the last
    group's, and those that could not be dialled) ended for ``target_ends``: the one
    decision for every caller nobody answered, from the end :func:`unanswered_rank` puts
    first.

    ``relayed=False``: the caller reached an application (a number's document, or its
    route), which dialled the targets: the table above, whatever a target answered — a
    carrier's 404 for a number the application dials says nothing of the number the
    caller dialled, which exists (502: the next hop failed).

    ``relayed=True``: the caller dialled the target itself (a phone calling an extension
    or a number), and the switch stands where a proxy would.  Busy, declined, rung out and
    offline answer as above, but a target that failed or was unreachable passes its own
    final response on, as a proxy forwards the best response (RFC 3261 §16.7), because
    that is what the caller asked about and what phones expect to show: the carrier's 404
    or 484 for a number that does not exist or is incomplete, our 404 for a route to
    nowhere, 408 for a target that never answered the INVITE.  Except: a 503 becomes 500
    (§16.7: a 503 would say this server is unavailable, and a phone may fail over on it,
    RFC 3263), while a challenge (401/407: our trunk's credentials) and anything that is
    no 4xx-6xx become the table's answer (502, or 504)."""
    ends = tuple(target_ends)
    if not ends:
        return _NOTHING_DIALLED
    first = min(ends, key=unanswered_rank)
    result = _UNANSWERED[_PRECEDENCE[first.reason]][1]
    own = _passed_on(first.sip_code)
    if relayed and own is not None and result.reason in (EndReason.FAILED, EndReason.UNREACHABLE):
        return Unanswered(reason=result.reason, sip_code=500 if own == 503 else own)
    return result


def unanswered_dial(target_ends: Iterable[EndReason]) -> Unanswered:
    """How the caller's unanswered leg ends after a Dial whose targets (its last group's,
    and those it could not dial: offline, or failed) ended for ``target_ends``
    (:func:`unanswered`, not relayed)."""
    return unanswered((TargetEnd(reason=reason) for reason in target_ends), relayed=False)


def dial_status(reason: EndReason) -> CallStatus:
    """The ``DialCallStatus`` of a target whose leg ended for ``reason``."""
    return _DIAL_STATUS[reason]


def reason_for_dial_status(status: CallStatus) -> EndReason:
    """The end reason a Dial (or line) status stands for; :class:`ValueError` for a
    status no Dial ends in."""
    try:
        return _REASON_OF_DIAL_STATUS[status]
    except KeyError:
        raise ValueError(f"{status.value} is no Dial status") from None


@dataclass(frozen=True, kw_only=True)
class CallOutcome:
    """How a call ended, as its completed callback tells it: ``outcome`` is a final status
    (an answered call that broke is ``failed``, not ``completed``) and ``sip_code`` the SIP
    status that ended it (200 for an answered call ended by a BYE)."""

    outcome: CallStatus
    sip_code: int

    def __post_init__(self) -> None:
        if self.outcome not in FINAL_STATUSES:
            raise ValueError(f"unknown call outcome {self.outcome!r}")


def call_outcome(reason: EndReason, *, sip_code: int | None, answered: bool) -> CallOutcome:
    """The completed callback's ``CallOutcome`` and ``SipResponseCode`` of a leg that ended
    for ``reason`` with final response ``sip_code`` (``None``: none was received)."""
    failed = reason in FAILURES
    outcome = CallStatus.FAILED if failed else final_status(reason, answered=answered)
    if sip_code is not None:
        code = sip_code
    elif answered and outcome is CallStatus.COMPLETED:
        code = 200
    else:
        code = sip_status_for_reason(reason)
    return CallOutcome(outcome=outcome, sip_code=code)

"""How a group nobody answered failed (the phones of one user, a Dial group): the end the
call vocabulary ranks first (the order that decides what a caller nobody answered gets);
ties go to the first leg's end."""

from __future__ import annotations

import pytest

from callbridge.calls.switch.group_failure import group_failure, group_status
from callbridge.calls.switch.ringer import Rung
from callbridge.engine.events import Ended, EndReason, Party
from callbridge.engine.events import EndReason as E
from callbridge.engine.routing import NoRoute, UserOffline
from callbridge.vocabulary import CallStatus, TargetEnd, unanswered, unanswered_rank


def end(reason: EndReason, code: int | None = None, detail: str = "") -> Ended:
    return Ended(reason, Party.REMOTE, code, detail)


def test_busy_beats_declined_beats_rung_out_beats_offline_beats_failed() -> None:
    failed = end(EndReason.FAILED, 503)
    unreachable = end(EndReason.UNREACHABLE, 408)
    offline = end(EndReason.OFFLINE, 480)
    cancelled = Ended(EndReason.CANCELLED, Party.LOCAL, None)
    no_answer = Ended(EndReason.NO_ANSWER, Party.LOCAL, None, "ring timeout")
    declined = end(EndReason.DECLINED, 603)
    busy = end(EndReason.BUSY, 486)
    assert group_failure([failed, unreachable, no_answer, declined, busy]) is busy
    assert group_failure([failed, declined, no_answer]) is declined
    assert group_failure([failed, cancelled, no_answer, unreachable]) is no_answer
    assert group_failure([failed, offline, cancelled]) is cancelled
    assert group_failure([unreachable, failed, offline]) is offline
    assert group_failure([unreachable, failed]) is failed  # failed, then unreachable
    assert group_failure([]) is None


def test_among_equals_the_best_response_then_the_first_leg() -> None:
    """RFC 3261 §16.7, as the caller of a relayed call is told: a 6xx, else the lowest class,
    a response that may not be passed on (none, a challenge) last; then the first."""
    not_found, gone = end(EndReason.FAILED, 404), end(EndReason.FAILED, 410)
    server, challenge = end(EndReason.FAILED, 500), end(EndReason.FAILED, 407)
    nowhere = end(EndReason.FAILED, 604)
    assert group_failure([server, not_found]) is not_found
    assert group_failure([not_found, gone]) is not_found
    assert group_failure([gone, not_found]) is gone
    assert group_failure([challenge, server]) is server
    assert group_failure([not_found, nowhere]) is nowhere
    first, second = end(EndReason.UNREACHABLE), end(EndReason.UNREACHABLE)
    assert group_failure([first, second]) is first


@pytest.mark.parametrize(
    "ends",
    [
        ((E.FAILED, 500), (E.UNREACHABLE, 408), (E.FAILED, 404)),
        ((E.NO_ANSWER, None), (E.CANCELLED, None), (E.OFFLINE, 480)),
        ((E.CANCELLED, None), (E.FAILED, 604), (E.UNREACHABLE, None)),
        ((E.UNREACHABLE, 408), (E.FAILED, 407), (E.HUNG_UP, None)),
        ((E.DECLINED, 603), (E.BUSY, 600), (E.BUSY, 486)),
        ((E.FAILED, 503), (E.UNREACHABLE, None)),
    ],
)
def test_the_end_picked_is_the_one_the_caller_was_told_of(
    ends: tuple[tuple[EndReason, int | None], ...],
) -> None:
    """One order: what the caller gets is what the picked end alone would give it."""
    legs = [end(reason, code) for reason, code in ends]
    picked = group_failure(legs)
    assert picked is not None
    targets = [TargetEnd(reason=leg.reason, sip_code=leg.sip_code) for leg in legs]
    alone = TargetEnd(reason=picked.reason, sip_code=picked.sip_code)
    for relayed in (False, True):
        assert unanswered(targets, relayed=relayed) == unanswered([alone], relayed=relayed)
    assert min(targets, key=unanswered_rank) == alone


def test_the_group_status_follows_the_end_that_speaks_for_it() -> None:
    assert group_status([end(EndReason.FAILED, 500), end(EndReason.BUSY, 486)]) is CallStatus.BUSY
    assert group_status([end(EndReason.DECLINED, 603)]) is CallStatus.BUSY
    timeout = Ended(EndReason.NO_ANSWER, Party.LOCAL, None)
    assert group_status([end(EndReason.FAILED, 500), timeout]) is CallStatus.NO_ANSWER
    cancelled = Ended(EndReason.CANCELLED, Party.LOCAL, None)
    assert group_status([end(EndReason.OFFLINE), cancelled]) is CallStatus.NO_ANSWER
    assert group_status([end(EndReason.UNREACHABLE, 408)]) is CallStatus.FAILED
    assert group_status([end(EndReason.HUNG_UP)]) is CallStatus.FAILED  # never completed
    assert group_status([]) is CallStatus.FAILED


def test_a_rung_group_lists_how_its_targets_ended_those_not_dialled_too() -> None:
    rung = Rung(
        status=CallStatus.FAILED,
        ends=(end(EndReason.FAILED, 404), Ended(EndReason.NO_ANSWER, Party.LOCAL, None)),
        unroutable=(UserOffline("1002"), NoRoute("+4930")),
    )
    assert rung.target_ends == (
        TargetEnd(reason=EndReason.FAILED, sip_code=404),
        TargetEnd(reason=EndReason.NO_ANSWER),
        TargetEnd(reason=EndReason.OFFLINE, sip_code=480),
        TargetEnd(reason=EndReason.FAILED, sip_code=404),
    )
    assert Rung(status=CallStatus.FAILED).target_ends == ()

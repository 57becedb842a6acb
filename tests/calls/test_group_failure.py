"""How a group nobody answered failed (the phones of one user, a Dial group): busy beats
declined beats no answer beats any other failure; ties go to the first leg's end."""

from __future__ import annotations

from callbridge.calls.switch.group_failure import group_failure, group_status
from callbridge.calls.switch.ringer import Rung
from callbridge.engine.events import Ended, EndReason, Party
from callbridge.engine.routing import NoRoute, UserOffline
from callbridge.vocabulary import CallStatus, TargetEnd


def end(reason: EndReason, code: int | None = None, detail: str = "") -> Ended:
    return Ended(reason, Party.REMOTE, code, detail)


def test_busy_beats_declined_beats_no_answer_beats_the_rest() -> None:
    failed = end(EndReason.FAILED, 503)
    unreachable = end(EndReason.UNREACHABLE, 408)
    no_answer = Ended(EndReason.NO_ANSWER, Party.LOCAL, None, "ring timeout")
    declined = end(EndReason.DECLINED, 603)
    busy = end(EndReason.BUSY, 486)
    assert group_failure([failed, unreachable, no_answer, declined, busy]) is busy
    assert group_failure([failed, declined, no_answer]) is declined
    assert group_failure([failed, no_answer, unreachable]) is no_answer
    assert group_failure([unreachable, failed]) is unreachable  # the first of equals
    assert group_failure([]) is None


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

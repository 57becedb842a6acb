"""The call vocabulary: every end reason through every mapping, and the guarded status
changes (issue 11 item 3)."""

from __future__ import annotations

import pytest

from callbridge.vocabulary import (
    FINAL_STATUSES,
    CallbackEvent,
    CallOutcome,
    CallStatus,
    EndReason,
    InvalidStatusChange,
    TargetEnd,
    call_outcome,
    change_status,
    dial_status,
    final_status,
    reason_for_dial_status,
    reason_for_sip_status,
    sip_status_for_reason,
    unanswered,
    unanswered_dial,
    unanswered_rank,
)

S = CallStatus
R = EndReason

# reason: (final status unanswered, SIP status of an unanswered inbound leg, Dial status,
#          (CallOutcome, SipResponseCode) unanswered without a final response,
#          (CallOutcome, SipResponseCode) answered without one)
EXPECTED: dict[EndReason, tuple[str, int, str, tuple[str, int], tuple[str, int]]] = {
    R.HUNG_UP: ("completed", 480, "completed", ("completed", 480), ("completed", 200)),
    R.BUSY: ("busy", 486, "busy", ("busy", 486), ("completed", 200)),
    R.NO_ANSWER: ("no-answer", 480, "no-answer", ("no-answer", 480), ("completed", 200)),
    R.DECLINED: ("busy", 603, "busy", ("busy", 603), ("completed", 200)),
    R.CANCELLED: ("canceled", 487, "no-answer", ("canceled", 487), ("completed", 200)),
    R.OFFLINE: ("failed", 480, "failed", ("failed", 480), ("failed", 480)),
    R.UNREACHABLE: ("failed", 408, "failed", ("failed", 408), ("failed", 408)),
    R.FAILED: ("failed", 500, "failed", ("failed", 500), ("failed", 500)),
    R.RTP_TIMEOUT: ("failed", 408, "failed", ("failed", 408), ("completed", 200)),
    R.SESSION_EXPIRED: ("failed", 408, "failed", ("failed", 408), ("completed", 200)),
}


def test_every_end_reason_is_in_the_table() -> None:
    assert set(EXPECTED) == set(EndReason)


@pytest.mark.parametrize("reason", list(EndReason))
def test_every_end_reason_walks_every_mapping(reason: EndReason) -> None:
    unanswered, sip, dial, outcome, answered_outcome = EXPECTED[reason]
    assert final_status(reason, answered=False) == unanswered
    assert final_status(reason, answered=True) is S.COMPLETED
    assert sip_status_for_reason(reason) == sip
    assert 400 <= sip < 700
    assert dial_status(reason) == dial
    got = call_outcome(reason, sip_code=None, answered=False)
    assert (got.outcome.value, got.sip_code) == outcome
    got = call_outcome(reason, sip_code=None, answered=True)
    assert (got.outcome.value, got.sip_code) == answered_outcome
    # A final response received is the one reported, whatever the reason.
    assert call_outcome(reason, sip_code=486, answered=False).sip_code == 486
    for status in (final_status(reason, answered=False), dial_status(reason)):
        assert status in FINAL_STATUSES
        assert reason_for_dial_status(status) in EndReason


@pytest.mark.parametrize(
    ("sip", "reason"),
    [
        (486, R.BUSY),
        (600, R.BUSY),
        (603, R.DECLINED),
        (480, R.NO_ANSWER),
        (408, R.NO_ANSWER),
        (487, R.CANCELLED),
        (404, R.FAILED),
        (500, R.FAILED),
        (503, R.FAILED),
    ],
)
def test_sip_status_maps_to_reason(sip: int, reason: EndReason) -> None:
    assert reason_for_sip_status(sip) is reason


@pytest.mark.parametrize("reason", [R.BUSY, R.DECLINED, R.CANCELLED, R.FAILED])
def test_the_sip_status_of_a_reason_maps_back_to_it(reason: EndReason) -> None:
    assert reason_for_sip_status(sip_status_for_reason(reason)) is reason


def test_a_dial_status_maps_to_the_reason_that_gives_it_back() -> None:
    for status in FINAL_STATUSES - {S.CANCELED}:
        assert dial_status(reason_for_dial_status(status)) is status
    assert reason_for_dial_status(S.CANCELED) is R.CANCELLED  # the caller gave up
    with pytest.raises(ValueError, match="no Dial status"):
        reason_for_dial_status(S.RINGING)


def test_the_values_are_the_seed_and_twilio_strings() -> None:
    assert [s.value for s in CallStatus] == [
        "queued",
        "ringing",
        "in-progress",
        "completed",
        "busy",
        "no-answer",
        "failed",
        "canceled",
    ]
    assert {s.value for s in FINAL_STATUSES} == {
        "completed",
        "busy",
        "no-answer",
        "failed",
        "canceled",
    }
    assert [e.value for e in CallbackEvent] == ["initiated", "ringing", "answered", "completed"]
    assert S.IN_PROGRESS == "in-progress"  # a StrEnum: the column and JSON see the text


def test_a_call_outcome_is_a_final_status() -> None:
    with pytest.raises(ValueError, match="unknown call outcome"):
        CallOutcome(outcome=S.RINGING, sip_code=180)


def test_a_call_moves_forward_only() -> None:
    status = change_status(S.QUEUED, S.RINGING)
    status = change_status(status, S.IN_PROGRESS)
    assert change_status(status, S.COMPLETED) is S.COMPLETED
    for final in FINAL_STATUSES:
        assert change_status(S.QUEUED, final) is final
        assert change_status(S.RINGING, final) is final
        for any_status in CallStatus:
            with pytest.raises(InvalidStatusChange):
                change_status(final, any_status)
    assert change_status(S.QUEUED, S.IN_PROGRESS) is S.IN_PROGRESS  # answered at once
    for wrong in (S.QUEUED, S.RINGING, S.BUSY, S.NO_ANSWER, S.FAILED, S.CANCELED):
        with pytest.raises(InvalidStatusChange, match=f"in-progress -> {wrong.value}"):
            change_status(S.IN_PROGRESS, wrong)
    with pytest.raises(InvalidStatusChange):
        change_status(S.RINGING, S.QUEUED)
    with pytest.raises(InvalidStatusChange):
        change_status(S.RINGING, S.RINGING)


@pytest.mark.parametrize(
    ("ends", "reason", "sip", "outcome"),
    [
        ((R.BUSY, R.BUSY), R.BUSY, 486, "busy"),
        ((R.NO_ANSWER, R.BUSY, R.FAILED), R.BUSY, 486, "busy"),  # busy tells the most
        ((R.DECLINED,), R.DECLINED, 603, "busy"),
        ((R.NO_ANSWER, R.DECLINED), R.DECLINED, 603, "busy"),
        ((R.NO_ANSWER,), R.NO_ANSWER, 480, "no-answer"),
        ((R.CANCELLED, R.UNREACHABLE), R.NO_ANSWER, 480, "no-answer"),  # rung out
        ((R.OFFLINE, R.FAILED), R.OFFLINE, 480, "failed"),
        ((R.FAILED, R.UNREACHABLE), R.FAILED, 502, "failed"),
        ((R.UNREACHABLE, R.UNREACHABLE), R.UNREACHABLE, 504, "failed"),
        ((), R.FAILED, 502, "failed"),
    ],
)
def test_an_unanswered_dial_gives_the_caller_the_response_that_says_why(
    ends: tuple[EndReason, ...], reason: EndReason, sip: int, outcome: str
) -> None:
    got = unanswered_dial(ends)
    assert (got.reason, got.sip_code) == (reason, sip)
    # The completed callback of the caller's call agrees with what the caller got.
    told = call_outcome(got.reason, sip_code=got.sip_code, answered=False)
    assert (told.outcome.value, told.sip_code) == (outcome, sip)


def end(reason: EndReason, code: int | None = None) -> TargetEnd:
    return TargetEnd(reason=reason, sip_code=code)


NO_ROUTE = TargetEnd.not_dialled(offline=False)
OFFLINE = TargetEnd.not_dialled(offline=True)

# (how the targets ended, (reason, SIP) after a Dial, (reason, SIP) when the caller
#  dialled the target itself: a phone calling an extension or a number)
UNANSWERED: list[tuple[tuple[TargetEnd, ...], tuple[EndReason, int], tuple[EndReason, int]]] = [
    # Busy beats declined beats rung out beats offline, however the caller got there.
    ((end(R.BUSY, 486), end(R.DECLINED, 603)), (R.BUSY, 486), (R.BUSY, 486)),
    ((end(R.BUSY, 600),), (R.BUSY, 486), (R.BUSY, 486)),
    ((end(R.FAILED, 404), end(R.DECLINED, 603)), (R.DECLINED, 603), (R.DECLINED, 603)),
    ((end(R.NO_ANSWER), end(R.FAILED, 500)), (R.NO_ANSWER, 480), (R.NO_ANSWER, 480)),
    ((end(R.NO_ANSWER, 408),), (R.NO_ANSWER, 480), (R.NO_ANSWER, 480)),
    ((end(R.CANCELLED), NO_ROUTE), (R.NO_ANSWER, 480), (R.NO_ANSWER, 480)),
    ((OFFLINE, NO_ROUTE), (R.OFFLINE, 480), (R.OFFLINE, 480)),
    # A failure: after a Dial the next hop failed (502); relayed, its own response.
    ((end(R.FAILED, 404),), (R.FAILED, 502), (R.FAILED, 404)),
    ((end(R.FAILED, 484),), (R.FAILED, 502), (R.FAILED, 484)),
    ((NO_ROUTE,), (R.FAILED, 502), (R.FAILED, 404)),  # no route: 404 Not Found
    ((end(R.FAILED, 500), end(R.FAILED, 404)), (R.FAILED, 502), (R.FAILED, 404)),  # 4xx first
    ((end(R.FAILED, 404), end(R.FAILED, 604)), (R.FAILED, 502), (R.FAILED, 604)),  # 6xx first
    ((end(R.FAILED, 404), end(R.UNREACHABLE, 408)), (R.FAILED, 502), (R.FAILED, 404)),
    ((end(R.FAILED, 503),), (R.FAILED, 502), (R.FAILED, 500)),  # RFC 3261 §16.7: not 503
    ((end(R.FAILED, 407),), (R.FAILED, 502), (R.FAILED, 502)),  # our trunk's challenge
    ((end(R.FAILED, 401),), (R.FAILED, 502), (R.FAILED, 502)),
    ((end(R.FAILED, 302),), (R.FAILED, 502), (R.FAILED, 502)),  # a redirect: no failure
    ((end(R.FAILED),), (R.FAILED, 502), (R.FAILED, 502)),  # no response of its own
    ((end(R.FAILED, 200),), (R.FAILED, 502), (R.FAILED, 502)),
    # Unreachable: our own transaction timeout (408) passes on when relayed.
    ((end(R.UNREACHABLE, 408),), (R.UNREACHABLE, 504), (R.UNREACHABLE, 408)),
    ((end(R.UNREACHABLE),), (R.UNREACHABLE, 504), (R.UNREACHABLE, 504)),
    ((), (R.FAILED, 502), (R.FAILED, 502)),  # nothing rung at all
]


@pytest.mark.parametrize(("ends", "after_dial", "relayed"), UNANSWERED)
def test_why_nobody_answered_decides_what_the_caller_gets(
    ends: tuple[TargetEnd, ...],
    after_dial: tuple[EndReason, int],
    relayed: tuple[EndReason, int],
) -> None:
    got = unanswered(ends, relayed=False)
    assert (got.reason, got.sip_code) == after_dial
    assert unanswered_dial(e.reason for e in ends) == got  # what a Dial's caller gets
    got = unanswered(ends, relayed=True)
    assert (got.reason, got.sip_code) == relayed
    assert 400 <= got.sip_code < 700
    assert got.sip_code != 503
    # The completed callback's outcome agrees with the response the caller got.
    told = call_outcome(got.reason, sip_code=got.sip_code, answered=False)
    assert told.sip_code == got.sip_code


@pytest.mark.parametrize("reason", list(EndReason))
def test_every_single_target_end_gives_a_final_error_response(reason: EndReason) -> None:
    for code in (None, 100, 180, 200, 302, 401, 404, 486, 503, 603, 699, 700, 999, -1):
        for relayed in (False, True):
            got = unanswered((end(reason, code),), relayed=relayed)
            assert 400 <= got.sip_code < 700, (reason, code, got)
            assert got.sip_code != 503
            assert got.reason in EndReason


def test_the_order_of_the_targets_does_not_change_the_answer() -> None:
    ends = [end(R.FAILED, 500), end(R.UNREACHABLE, 408), end(R.FAILED, 404)]
    for relayed in (False, True):
        assert unanswered(ends, relayed=relayed) == unanswered(ends[::-1], relayed=relayed)
    assert unanswered(ends, relayed=True).sip_code == 404
    assert unanswered([*ends, OFFLINE], relayed=True).sip_code == 480
    # Equals of one class: the first target's (as a proxy may pick any of them).
    assert unanswered([end(R.FAILED, 404), end(R.FAILED, 410)], relayed=True).sip_code == 404


def test_one_order_ranks_every_target_end() -> None:
    order = [R.BUSY, R.DECLINED, R.NO_ANSWER, R.CANCELLED, R.OFFLINE, R.FAILED, R.UNREACHABLE]
    ranks = [unanswered_rank(end(reason)) for reason in order]
    assert ranks == sorted(ranks)
    assert len({rank[0] for rank in ranks}) == len(order)  # no two tied
    for other in (R.HUNG_UP, R.RTP_TIMEOUT, R.SESSION_EXPIRED):  # failures, as failed
        assert unanswered_rank(end(other)) == unanswered_rank(end(R.FAILED))
    # Among equals, the response a proxy passes on (§16.7): a 6xx, else the lowest class.
    codes = [604, 404, 410, 500, 503, 407, 302, None]
    ranked = sorted(codes, key=lambda code: unanswered_rank(end(R.FAILED, code)))
    assert ranked == codes


def test_a_target_that_could_not_be_dialled() -> None:
    assert TargetEnd.not_dialled(offline=True) == TargetEnd(reason=R.OFFLINE, sip_code=480)
    assert TargetEnd.not_dialled(offline=False) == TargetEnd(reason=R.FAILED, sip_code=404)

"""The end saved for a group nobody answered counts the targets that could not be dialled
(an offline user, no route) as the caller is told of them: of every target's end, placed
or not, the one the vocabulary ranks first.  A target with no leg ends by this server
(``Party.LOCAL``) with the reason and final response the vocabulary gives it (offline 480,
no route 404) and its routing error as the detail.  Unit tests: ``Rung``, the ringer's
outcome (fake legs), a line's and a user's saved end."""

from __future__ import annotations

import asyncio

import pytest

from callbridge.callflow.verbs import DialTarget
from callbridge.calls.lines import Line, line_failure
from callbridge.calls.switch.group_failure import group_status, not_dialled, target_end
from callbridge.calls.switch.ringer import RingingGroup, Rung
from callbridge.calls.switch.user_phones import phones_failure
from callbridge.engine.events import Ended, EndReason, LegEndedError, Party
from callbridge.engine.routing import NoRoute, RoutingError, UserOffline
from callbridge.vocabulary import CallStatus, TargetEnd, unanswered, unanswered_rank

E = EndReason
OFFLINE = UserOffline("user 1002 is offline")
NO_ROUTE = NoRoute("'+4930' is neither an extension, a number nor a SIP URI")


def remote(reason: EndReason, code: int | None = None) -> Ended:
    return Ended(reason, Party.REMOTE, code, f"{reason.value} {code}")


def failed(*ends: Ended, unroutable: tuple[RoutingError, ...] = ()) -> Rung:
    """A group nobody answered, its status as the ringer gives it (from its legs)."""
    return Rung(status=group_status(ends), ends=ends, unroutable=unroutable)


def test_a_target_not_dialled_ends_by_this_server_as_the_vocabulary_counts_it() -> None:
    assert not_dialled(OFFLINE) == Ended(E.OFFLINE, Party.LOCAL, 480, str(OFFLINE))
    assert not_dialled(NO_ROUTE) == Ended(E.FAILED, Party.LOCAL, 404, str(NO_ROUTE))
    assert target_end(not_dialled(OFFLINE)) == TargetEnd.not_dialled(offline=True)
    assert target_end(not_dialled(NO_ROUTE)) == TargetEnd.not_dialled(offline=False)


def test_an_offline_user_speaks_before_a_number_that_failed() -> None:
    """The brief's case: the caller is told 480 offline, and that is what is saved."""
    rung = failed(remote(E.FAILED, 500), unroutable=(OFFLINE,))
    assert rung.failure == Ended(E.OFFLINE, Party.LOCAL, 480, str(OFFLINE))
    assert unanswered(rung.target_ends, relayed=False).reason is E.OFFLINE
    assert rung.status is CallStatus.FAILED


def test_a_leg_that_was_busy_or_rang_out_speaks_before_an_offline_user() -> None:
    busy = remote(E.BUSY, 486)
    assert failed(busy, unroutable=(OFFLINE,)).failure is busy
    rang_out = Ended(E.NO_ANSWER, Party.LOCAL, None, "ring timeout")
    assert failed(rang_out, unroutable=(OFFLINE, NO_ROUTE)).failure is rang_out


def test_no_route_speaks_before_an_unreachable_leg_and_among_failures_by_its_404() -> None:
    unreachable = remote(E.UNREACHABLE, 408)
    rung = failed(unreachable, unroutable=(NO_ROUTE,))
    assert rung.failure == not_dialled(NO_ROUTE)
    # Among failures, the best response (§16.7): 404 is a lower class than 500 ...
    assert failed(remote(E.FAILED, 500), unroutable=(NO_ROUTE,)).failure == not_dialled(NO_ROUTE)
    # ... and a leg's own 404 ties with it: the first (a leg's end comes first) speaks.
    own = remote(E.FAILED, 404)
    assert failed(own, unroutable=(NO_ROUTE,)).failure is own
    # A 6xx beats any other failure.
    nowhere = remote(E.FAILED, 604)
    assert failed(nowhere, unroutable=(NO_ROUTE,)).failure is nowhere


def test_nothing_dialled_the_first_target_ranked_first_speaks() -> None:
    rung = Rung(status=CallStatus.FAILED, unroutable=(NO_ROUTE, OFFLINE))
    assert rung.failure == not_dialled(OFFLINE)
    other = UserOffline("user 1003 is offline")
    assert Rung(status=CallStatus.FAILED, unroutable=(OFFLINE, other)).failure == not_dialled(
        OFFLINE
    )
    assert Rung(status=CallStatus.FAILED).failure is None


@pytest.mark.parametrize(
    ("ends", "unroutable"),
    [
        (((E.FAILED, 500),), (OFFLINE,)),
        (((E.FAILED, 503), (E.UNREACHABLE, None)), (NO_ROUTE,)),
        (((E.UNREACHABLE, 408),), (NO_ROUTE, OFFLINE)),
        (((E.FAILED, 407),), (NO_ROUTE,)),
        (((E.FAILED, 404), (E.FAILED, 484)), (NO_ROUTE,)),
        (((E.CANCELLED, None), (E.FAILED, 500)), (OFFLINE,)),
        (((E.DECLINED, 603),), (OFFLINE, NO_ROUTE)),
        ((), (NO_ROUTE, OFFLINE)),
        ((), (NO_ROUTE,)),
    ],
)
def test_the_saved_end_is_the_one_the_caller_was_told_of(
    ends: tuple[tuple[EndReason, int | None], ...], unroutable: tuple[RoutingError, ...]
) -> None:
    """What the caller gets from every target's end is what the saved end alone gives."""
    rung = failed(*(remote(reason, code) for reason, code in ends), unroutable=unroutable)
    saved = rung.failure
    assert saved is not None
    alone = target_end(saved)
    for relayed in (False, True):
        assert unanswered(rung.target_ends, relayed=relayed) == unanswered([alone], relayed=relayed)
    assert min(rung.target_ends, key=unanswered_rank) == alone
    assert rung.target_ends == tuple(target_end(end) for end in rung.all_ends)


class EndedLeg:
    """A fake leg that ended, unanswered, for ``ended``."""

    def __init__(self, ended: Ended) -> None:
        self.ended = ended

    async def wait_answered(self) -> None:
        raise LegEndedError(self.ended)

    async def hangup(
        self, reason: EndReason = EndReason.HUNG_UP, sip_code: int | None = None, detail: str = ""
    ) -> None:
        pass


async def _never() -> None:
    await asyncio.Event().wait()


async def test_the_ringers_outcome_keeps_the_targets_it_could_not_dial() -> None:
    leg = EndedLeg(remote(E.FAILED, 500))
    group = RingingGroup(
        legs={leg: DialTarget(kind="number", address="+4930123")},  # type: ignore[dict-item]
        unroutable=(OFFLINE,),
    )
    rung = await group.outcome(give_up=_never)
    assert rung.status is CallStatus.FAILED
    assert rung.unroutable == (OFFLINE,)
    assert rung.target_ends == (
        TargetEnd(reason=E.FAILED, sip_code=500),
        TargetEnd.not_dialled(offline=True),
    )
    assert rung.failure == not_dialled(OFFLINE)


LINE = Line(id="reg1332", name="Sales", users=("1001", "1002"), numbers=("+4930123",))


def test_a_line_whose_offline_user_speaks_saves_offline_by_this_server() -> None:
    rung = failed(remote(E.FAILED, 500), unroutable=(OFFLINE,))
    assert line_failure(LINE, rung) == Ended(
        E.OFFLINE, Party.LOCAL, 480, f"line reg1332: {OFFLINE}"
    )
    rung = failed(remote(E.UNREACHABLE, 408), unroutable=(NO_ROUTE,))
    assert line_failure(LINE, rung) == Ended(
        E.FAILED, Party.LOCAL, 404, f"line reg1332: {NO_ROUTE}"
    )


def test_a_line_whose_leg_speaks_saves_its_status_and_final_response_as_before() -> None:
    rung = failed(remote(E.BUSY, 486), unroutable=(OFFLINE,))
    assert line_failure(LINE, rung) == Ended(E.BUSY, Party.REMOTE, 486, "line reg1332: busy")
    rang_out = Ended(E.NO_ANSWER, Party.LOCAL, None, "ring timeout")
    assert line_failure(LINE, failed(rang_out)) == Ended(
        E.NO_ANSWER, Party.REMOTE, None, "line reg1332: no-answer"
    )
    assert line_failure(LINE, failed(remote(E.UNREACHABLE, 408))) == Ended(
        E.FAILED, Party.REMOTE, 408, "line reg1332: failed"
    )


def test_a_line_whose_users_are_all_offline_saves_offline() -> None:
    rung = Rung(status=CallStatus.FAILED, unroutable=(OFFLINE, UserOffline("user 1001")))
    ended = line_failure(LINE, rung)
    assert (ended.reason, ended.by) == (E.OFFLINE, Party.LOCAL)
    assert ended.detail == f"line reg1332: {OFFLINE}"
    nothing = line_failure(LINE, Rung(status=CallStatus.CANCELED))
    assert nothing == Ended(E.CANCELLED, Party.LOCAL, None, "line reg1332: canceled")


def test_a_users_phones_save_the_end_that_speaks_placed_or_not() -> None:
    busy = remote(E.BUSY, 486)
    assert phones_failure(failed(busy, remote(E.FAILED, 500))) is busy
    unreachable = remote(E.UNREACHABLE, 408)
    rung = failed(unreachable, unroutable=(OFFLINE,))
    assert phones_failure(rung) == not_dialled(OFFLINE)
    offline = phones_failure(Rung(status=CallStatus.FAILED, unroutable=(OFFLINE,)))
    assert (offline.reason, offline.by, offline.detail) == (E.OFFLINE, Party.LOCAL, str(OFFLINE))
    assert phones_failure(Rung(status=CallStatus.FAILED)) == Ended(
        E.FAILED, Party.LOCAL, None, "no phone"
    )

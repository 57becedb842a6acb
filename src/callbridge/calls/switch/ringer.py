"""GroupRinger: the switch's one ringer.  Groups ring in sequence, each for its own ring
time; the targets of a group ring at once; the first to answer wins and the others are
cancelled (RFC 3261 §9.1 CANCEL); whoever waits for the ringing (``give_up``) is watched
throughout, and its going cancels every target.

Used by the Dial verb, by extension dialling, by lines (the first party of a
``callback.start``), by queues, call-control forwarding and originate type=user, so a
group rings, and fails, the same way for all of them.

A registered user with several phones is one target rung as one leg per phone: the
engine says which phones the user has (``user_contacts``) and places one INVITE to one
of them (``originate(..., contact=...)``); the phones ring in the target's group, the
first to answer wins and the others are cancelled like any other target's.  A group
nobody answered fails as :mod:`.group_failure` says (the call vocabulary's one order: busy
beats declined beats rang out beats offline beats failed beats unreachable).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from callbridge.callflow.errors import InvalidVerb
from callbridge.callflow.ports import DialStatus
from callbridge.callflow.verbs import DialGroup, DialTarget
from callbridge.calls.switch.group_failure import (
    group_failure,
    group_status,
    not_dialled,
    target_end,
)
from callbridge.engine.events import Ended, EndReason
from callbridge.engine.leg import CallLeg
from callbridge.engine.routing import Destination, RoutingError
from callbridge.vocabulary import CallStatus, TargetEnd

log = logging.getLogger(__name__)


class Originator(Protocol):
    """The part of the engine that places calls and connects their media."""

    async def originate(
        self,
        to: str,
        *,
        caller_id: str = ...,
        caller_name: str | None = None,
        ring_timeout: float | None = None,
        headers: dict[str, str] | None = None,
        trunk: str | None = None,
        contact: Destination | None = None,
    ) -> CallLeg: ...

    def user_contacts(self, to: str) -> Sequence[Destination] | None:
        """The phones of user ``to`` (None: ``to`` is no user); raises UserOffline."""
        ...

    def bridge(self, a: CallLeg, b: CallLeg) -> None: ...

    def unbridge(self, a: CallLeg) -> None: ...


# Called with each leg the moment it is placed (bookkeeping, progress reports).
OnLeg = Callable[[CallLeg, DialTarget], Awaitable[None]]
# Completes when whoever waits for the ringing gives up (caller hung up, callback stopped).
GiveUp = Callable[[], Awaitable[object]]
# Asked before each group: False when nobody waits for the ringing any more.
StillWanted = Callable[[], bool]


@dataclass(frozen=True, kw_only=True)
class Rung:
    """What ringing came to: ``leg`` answered (``status`` completed), or nobody did and
    ``status`` says why; ``ends`` are how the last group's legs ended (one per phone),
    ``unroutable`` why its other targets could not be dialled at all, and ``failure`` the
    end that speaks for them all."""

    status: DialStatus
    leg: CallLeg | None = None
    target: DialTarget | None = None
    ends: tuple[Ended, ...] = ()
    unroutable: tuple[RoutingError, ...] = ()  # why targets could not be dialled at all

    @property
    def all_ends(self) -> tuple[Ended, ...]:
        """How the targets nobody answered ended: each leg's end, then an end for each
        target that could not be dialled (:func:`.group_failure.not_dialled`)."""
        return (*self.ends, *(not_dialled(error) for error in self.unroutable))

    @property
    def failure(self) -> Ended | None:
        """The end saved for the group: of :attr:`all_ends`, the one the vocabulary ranks
        first, placed or not, so it is the one the caller was told of (None: no target)."""
        return group_failure(self.all_ends)

    def dialled(self, ended: Ended) -> bool:
        """Whether ``ended`` (one of :attr:`all_ends`) is a leg's end, not a target's that
        could not be dialled."""
        return any(ended is end for end in self.ends)

    @property
    def target_ends(self) -> tuple[TargetEnd, ...]:
        """How the targets nobody answered ended, those that could not be dialled
        included (``TargetEnd.not_dialled``): what the caller is told from
        (:func:`callbridge.vocabulary.unanswered`)."""
        return tuple(target_end(ended) for ended in self.all_ends)


class GroupRinger:
    def __init__(
        self,
        *,
        engine: Originator,
        caller_id: str,
        caller_name: str | None = None,
        headers: dict[str, str] | None = None,
        on_leg: OnLeg | None = None,
    ) -> None:
        """``headers``: added to every INVITE (checked by the engine)."""
        self._engine = engine
        self._caller_id = caller_id
        self._caller_name = caller_name
        self._headers = headers
        self._on_leg = on_leg

    async def ring(
        self,
        groups: Sequence[DialGroup],
        *,
        give_up: GiveUp,
        still_wanted: StillWanted | None = None,
    ) -> Rung:
        """Each group in turn until a target answers, every group failed, or ``give_up``
        completes while one rings; ``canceled`` too, without ringing it, when a group's
        turn comes and ``still_wanted`` (if given) says nobody waits any more."""
        rung = Rung(status=CallStatus.FAILED)
        for group in groups:
            if still_wanted is not None and not still_wanted():
                return Rung(status=CallStatus.CANCELED)
            rung = await self._ring_group(group, give_up=give_up)
            if rung.status in (CallStatus.COMPLETED, CallStatus.CANCELED):
                return rung
        return rung

    async def _ring_group(self, group: DialGroup, *, give_up: GiveUp) -> Rung:
        return await (await self.place(group)).outcome(give_up=give_up)

    async def place(self, group: DialGroup) -> RingingGroup:
        """Start ringing ``group`` (every INVITE is sent when this returns); its
        :meth:`RingingGroup.outcome` is what it comes to.  For whoever must answer once
        the phones ring (originate ``async=1``); :meth:`ring` does both."""
        ringing, unroutable = await self._originate_all(group)
        return RingingGroup(legs=ringing, unroutable=unroutable)

    async def _originate_all(
        self, group: DialGroup
    ) -> tuple[dict[CallLeg, DialTarget], tuple[RoutingError, ...]]:
        """One leg per target, and per phone of a user target (those placed are cancelled
        when placing another fails otherwise than for its route: no media ports left)."""
        ringing: dict[CallLeg, DialTarget] = {}
        unroutable: list[RoutingError] = []
        try:
            await self._place(group, ringing, unroutable)
        except BaseException:
            await cancel_all(list(ringing))
            raise
        return ringing, tuple(unroutable)

    async def _place(
        self,
        group: DialGroup,
        ringing: dict[CallLeg, DialTarget],
        unroutable: list[RoutingError],
    ) -> None:
        for target in group.targets:
            try:
                phones = self._engine.user_contacts(target.address)
            except RoutingError as error:
                log.info("target %s not routable: %s", target.address, error)
                unroutable.append(error)
                continue
            for contact in phones if phones is not None else (None,):
                try:
                    leg = await self._engine.originate(
                        target.address,
                        caller_id=self._caller_id,
                        caller_name=self._caller_name,
                        ring_timeout=group.ring_timeout,
                        headers=self._headers,
                        contact=contact,
                    )
                except RoutingError as error:
                    log.info("target %s not routable: %s", target.address, error)
                    unroutable.append(error)
                    continue
                ringing[leg] = target
                if self._on_leg is not None:
                    await self._on_leg(leg, target)


@dataclass(frozen=True, kw_only=True)
class RingingGroup:
    """A group's legs placed and ringing (``legs``: each with the target it rings for),
    and why targets could not be placed at all."""

    legs: dict[CallLeg, DialTarget]
    unroutable: tuple[RoutingError, ...] = ()

    async def outcome(self, *, give_up: GiveUp) -> Rung:
        """The first leg to answer (the others cancelled), or how the group failed."""
        ringing = self.legs
        if not ringing:
            return Rung(status=CallStatus.FAILED, unroutable=self.unroutable)
        answer: Rung | None = None
        gave_up = False
        try:
            answer, gave_up = await _first_answer(ringing, give_up)
        finally:
            losers = [leg for leg in ringing if answer is None or leg is not answer.leg]
            try:
                await cancel_all(losers)
            except asyncio.CancelledError:
                if answer is not None and answer.leg is not None:  # nobody takes it now
                    await answer.leg.hangup(detail="the ringing was cancelled")
                raise
        if answer is not None:
            return answer
        ends = tuple(leg.ended for leg in ringing if leg.ended is not None)
        status = CallStatus.CANCELED if gave_up else group_status(ends)
        return Rung(status=status, ends=ends, unroutable=self.unroutable)


def phones_target(engine: Originator, to: str) -> DialTarget | None:
    """The target that rings the phones of ``to`` when it is a user with more than one
    phone registered (its call is then rung by a ringer, one leg per phone, not placed as
    one leg); None otherwise."""
    try:
        phones = engine.user_contacts(to)
        if phones is None or len(phones) < 2:
            return None
        return DialTarget(kind="user", address=to.strip())
    except (RoutingError, InvalidVerb):  # placing the one leg says why it cannot be
        return None


async def _first_answer(
    ringing: dict[CallLeg, DialTarget], give_up: GiveUp
) -> tuple[Rung | None, bool]:
    """The first leg to answer, or ``None`` once every leg has ended (``False``) or
    ``give_up`` completed (``True``)."""
    waits: dict[asyncio.Future[object], CallLeg] = {
        asyncio.ensure_future(leg.wait_answered()): leg for leg in ringing
    }
    gone: asyncio.Future[object] = asyncio.ensure_future(give_up())
    pending = {*waits, gone}
    try:
        while waits.keys() & pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if gone in done:
                return None, True
            for future in done:
                if future.exception() is None:
                    leg = waits[future]
                    rung = Rung(status=CallStatus.COMPLETED, leg=leg, target=ringing[leg])
                    return rung, False
        return None, False
    finally:
        for future in pending:
            future.cancel()


async def cancel_all(legs: Sequence[CallLeg]) -> None:
    """CANCEL the legs still ringing (an ended leg's hangup is a no-op)."""
    await asyncio.gather(*(leg.hangup(EndReason.CANCELLED) for leg in legs), return_exceptions=True)

"""ForwardRunner: seed-004's ``<Forward>`` on the caller's leg.

The optional ``forward_announcement`` plays first (early media), then each ``<Target>``
rings in turn, its numbers at once, for its ``ringtime`` (the switch's GroupRinger: the
others are cancelled when one answers, all of them when the caller hangs up).  While they
ring the caller hears music on hold (early media) with ``music_on_hold``, else the
targets' progress as any ringing caller does (their 180 as ours, or their early media;
generated ringback once we are in early media).  The caller is answered only when a target
answers, and bridged to it.  Nobody answered: the number's mailbox (``voicemail``), else
the caller gets what a Dial's caller gets for how the targets ended
(:func:`callbridge.vocabulary.unanswered`: busy 486, declined 603, rang out 480, failed
502, ...), or 480 when no target was rung at all (none given, or every one refused: the
call was missed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from callbridge.callflow.verbs import DialGroup, DialTarget
from callbridge.calls.control.caller_audio import MusicOnHold, play_announcement
from callbridge.calls.control.notify import HangupType
from callbridge.calls.control.outcome import Accepted, PlanOutcome, Timeline
from callbridge.calls.control.plan import Forward, ForwardTarget
from callbridge.calls.control.ports import ControlPorts
from callbridge.calls.switch.bridge import bridge
from callbridge.calls.switch.progress import CallerProgress
from callbridge.calls.switch.ringer import GroupRinger, Originator
from callbridge.engine.events import EndReason
from callbridge.engine.leg import CallLeg
from callbridge.vocabulary import TargetEnd, unanswered

log = logging.getLogger(__name__)

NOBODY_ANSWERED = 480


def dial_groups(targets: tuple[ForwardTarget, ...]) -> tuple[DialGroup, ...]:
    """A Target is a group; ``user@host`` is a SIP URI, anything else the engine routes
    (an extension, else a number through the default trunk)."""
    return tuple(
        DialGroup(targets=tuple(_dial_target(n) for n in t.numbers), ring_timeout=t.ringtime)
        for t in targets
    )


def _dial_target(number: str) -> DialTarget:
    if "@" in number:
        return DialTarget(kind="sip", address=f"sip:{number}")
    return DialTarget(kind="number", address=number)


class ForwardRunner:
    def __init__(
        self,
        *,
        engine: Originator,
        caller: CallLeg,
        caller_id: str,
        ports: ControlPorts,
        timeline: Timeline,
        accepted: Accepted,
        peer_of: Callable[[str], str],
        mailbox: str | None,
        caller_number: str,
        number: str,
        refusal: Callable[[str], str | None] | None = None,
    ) -> None:
        """``peer_of`` names a target's number as ``CallAccepted`` shows it; ``refusal``
        says why a target may not be called (the number's key's destination rules), or
        ``None``: refused targets are not rung, and the call's events say why."""
        self._engine = engine
        self._caller = caller
        self._caller_id = caller_id
        self._ports = ports
        self._timeline = timeline
        self._accepted = accepted
        self._peer_of = peer_of
        self._mailbox = mailbox
        self._caller_number = caller_number
        self._number = number
        self._refusal = refusal
        self._target_ends: tuple[TargetEnd, ...] = ()  # how the last targets rung ended

    async def run(self, forward: Forward) -> PlanOutcome:
        caller = self._caller
        if forward.forward_announcement is not None:
            why = await play_announcement(
                caller, self._ports.announcements, forward.forward_announcement
            )
            if why is not None:
                await self._timeline.note(
                    "announcement_skipped",
                    {"announcement": forward.forward_announcement, "why": why},
                )
        if caller.ended is not None:
            return PlanOutcome(kind=HangupType.MISSED, detail="the caller hung up")
        if forward.targets:
            outcome = await self._ring(forward)
            if outcome is not None:
                return outcome
        if caller.ended is not None:
            return PlanOutcome(kind=HangupType.MISSED, detail="the caller hung up")
        return await self._voicemail_or_missed(forward)

    async def _ring(self, forward: Forward) -> PlanOutcome | None:
        caller = self._caller
        music: MusicOnHold | None = None
        progress: CallerProgress | None = None
        if forward.music_on_hold and self._ports.hold_music is not None:
            music = MusicOnHold(leg=caller, music=self._ports.hold_music)
            await music.start()
        else:
            if forward.music_on_hold:
                await self._timeline.note("music_on_hold_skipped", {"why": "no music configured"})
            progress = CallerProgress(caller=caller, engine=self._engine)

        async def on_leg(leg: CallLeg, target: DialTarget) -> None:
            if progress is not None:
                progress.follow(leg)
            await self._timeline.note("forward_ringing", {"to": target.address, "leg": leg.id})

        ringer = GroupRinger(engine=self._engine, caller_id=self._caller_id, on_leg=on_leg)
        groups = await self._allowed(dial_groups(forward.targets))
        try:
            rung = await ringer.ring(groups, give_up=caller.wait_ended)
        finally:
            if music is not None:
                await music.stop()
        if progress is not None:
            await progress.stop(winner=rung.leg)
        if rung.leg is None or rung.target is None:
            await self._timeline.note("forward_unanswered", {"status": str(rung.status)})
            self._target_ends = rung.target_ends
            return None
        number = rung.target.address.removeprefix("sip:")
        peer = self._peer_of(number)
        await self._timeline.note("forward_answered", {"peer": peer, "leg": rung.leg.id})
        await self._accepted(peer)
        bridged = await bridge(self._engine, caller, rung.leg)
        if not bridged.connected:
            return PlanOutcome(kind=HangupType.MISSED, detail="the bridge failed")
        return PlanOutcome(kind=HangupType.ACCEPTED)

    async def _allowed(self, groups: tuple[DialGroup, ...]) -> tuple[DialGroup, ...]:
        if self._refusal is None:
            return groups
        allowed = []
        for group in groups:
            targets = []
            for target in group.targets:
                why = self._refusal(target.address)
                if why is None:
                    targets.append(target)
                else:
                    log.warning("forward to %s refused: %s", target.address, why)
                    await self._timeline.note("forward_refused", {"to": target.address, "why": why})
            if targets:
                allowed.append(DialGroup(targets=tuple(targets), ring_timeout=group.ring_timeout))
        return tuple(allowed)

    async def _voicemail_or_missed(self, forward: Forward) -> PlanOutcome:
        voicemail, mailbox = self._ports.voicemail, self._mailbox
        if forward.voicemail and mailbox is not None:
            if voicemail is None or not voicemail.has_mailbox(mailbox):
                await self._timeline.note(
                    "voicemail_skipped", {"mailbox": mailbox, "why": "no such mailbox"}
                )
            else:
                await self._timeline.note("voicemail", {"mailbox": mailbox})
                kept = await voicemail.deposit(
                    self._caller,
                    mailbox=mailbox,
                    announcement=forward.voicemail_announcement,
                    as_attachment=forward.voicemail_as_attachment,
                    caller=self._caller_number,
                    number=self._number,
                )
                detail = "message kept" if kept else "no message"
                return PlanOutcome(kind=HangupType.VOICEMAIL, detail=detail)
        await self._missed()
        return PlanOutcome(kind=HangupType.MISSED, detail="nobody answered")

    async def _missed(self) -> None:
        """The caller hears why nobody answered."""
        if not self._target_ends:
            await self._caller.hangup(EndReason.NO_ANSWER, NOBODY_ANSWERED, "nobody was rung")
            return
        why = unanswered(self._target_ends, relayed=False)
        detail = f"nobody answered ({why.reason.value})"
        await self._caller.hangup(why.reason, why.sip_code, detail=detail)

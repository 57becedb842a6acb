"""A user with several phones called for whoever wants one leg back (an outbound API call,
a callback's leg): the phones ring as one group of the switch's ringer, each its own leg;
the first to answer is the call's leg, the others are cancelled, and the first phone to
ring (or send early media) is reported as the call's progress.

(A user with one phone is simply that phone's leg: ``Engine.originate``.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from callbridge.callflow.verbs import DialGroup, DialTarget
from callbridge.calls.switch.ringer import GiveUp, GroupRinger, Originator, Rung
from callbridge.engine.events import Answered, EarlyMedia, Ended, EndReason, Party, Ringing
from callbridge.engine.leg import CallLeg
from callbridge.media.plane import MediaPortsExhausted
from callbridge.vocabulary import CallStatus

Progress = Callable[[Ringing | EarlyMedia], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class PhonesCall:
    """Whom to call (``user``: :func:`.ringer.phones_target`) and what its INVITEs show."""

    user: DialTarget
    caller_id: str
    caller_name: str | None = None
    ring_timeout: float = 60.0
    headers: dict[str, str] | None = None


async def ring_phones(
    engine: Originator,
    call: PhonesCall,
    *,
    placed: Callable[[], None],
    progress: Progress,
    give_up: GiveUp,
) -> Rung:
    """Ring every phone of ``call.user``; ``placed`` is told once the INVITEs are on the wire
    (or failed to go out), ``progress`` the first phone's ringing.  The answered leg, or
    why none was (``Rung.failure``, ``Rung.unroutable``; ``canceled`` once ``give_up``
    completed).  Raises MediaPortsExhausted (no leg left ringing then)."""
    reported = False

    async def report(leg: CallLeg) -> None:
        nonlocal reported
        async for event in leg.events():
            if isinstance(event, Answered | Ended):
                return
            if isinstance(event, Ringing | EarlyMedia) and not reported:
                reported = True
                await progress(event)
                return

    group = DialGroup(targets=(call.user,), ring_timeout=call.ring_timeout)
    no_ports: MediaPortsExhausted | None = None
    rung = Rung(status=CallStatus.FAILED)
    async with asyncio.TaskGroup() as watching:

        async def on_leg(leg: CallLeg, _target: DialTarget) -> None:
            watching.create_task(report(leg), name=f"progress {leg.id}")

        ringer = GroupRinger(
            engine=engine,
            caller_id=call.caller_id,
            caller_name=call.caller_name,
            headers=call.headers,
            on_leg=on_leg,
        )
        try:
            ringing = await ringer.place(group)
        except MediaPortsExhausted as error:  # raised below, not as a TaskGroup's group
            no_ports = error
        finally:
            placed()
        if no_ports is None:
            # Each watcher ends once its leg answered or ended: the outcome cancels the rest.
            rung = await ringing.outcome(give_up=give_up)
    if no_ports is not None:
        raise no_ports
    return rung


def phones_failure(rung: Rung) -> Ended:
    """Why none of a user's phones answered, as the end of the user's one leg: the end
    that speaks for them (``Rung.failure``: a phone's, or an offline user's), else failed."""
    failure = rung.failure
    if failure is not None:
        return failure
    return Ended(EndReason.FAILED, Party.LOCAL, None, "no phone")

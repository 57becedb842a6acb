"""CallerProgress: what the caller hears while the switch rings its targets.

- A caller whose leg carries no media yet (an inbound call not answered): a target's 180
  becomes the caller's 180 (its phone plays ringback); a target's 183 with SDP (early
  media) becomes the caller's 183 with our SDP, and the target's early audio is relayed
  to the caller.
- A caller whose leg carries media (answered: an outbound call's application, an answered
  inbound call; or already in early media): the first 180 starts a locally generated
  ringback tone (:mod:`callbridge.calls.switch.ringback`); a target's early media replaces
  the tone with that target's audio.

One target's early media is relayed at a time (the first to send it).  :meth:`stop` ends
the tone the instant a target answers or the ringing fails, and undoes the early-media
relay unless the target relayed is the one that answered.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from callbridge.calls.switch.ringback import Ringback
from callbridge.calls.switch.ringer import Originator
from callbridge.engine.events import (
    Answered,
    EarlyMedia,
    Ended,
    LegEndedError,
    LegEvent,
    LegState,
    Ringing,
)
from callbridge.engine.leg import CallLeg

log = logging.getLogger(__name__)

_CARRIES_MEDIA = (LegState.ANSWERED, LegState.EARLY_MEDIA)


class CallerProgress:
    """Follows the targets rung for ``caller`` (:meth:`follow`) until :meth:`stop`."""

    def __init__(self, *, caller: CallLeg, engine: Originator) -> None:
        self._caller = caller
        self._engine = engine
        self._ringback = Ringback(leg=caller, tasks=caller.tasks)
        self._unsubscribe: list[Callable[[], None]] = []
        self._relayed: CallLeg | None = None  # the target whose early media the caller hears
        self._rang = False  # a target has rung or sent early media
        self._stopped = False

    @property
    def relayed(self) -> CallLeg | None:
        return self._relayed

    @property
    def ringback_playing(self) -> bool:
        return self._ringback.playing

    def follow(self, target: CallLeg) -> None:
        """Report ``target``'s progress to the caller (its events so far, then each new one)."""
        if self._stopped:
            return
        for event in list(target.history):
            self._on_event(target, event)
        self._unsubscribe.append(target.subscribe(lambda e: self._on_event(target, e)))

    async def stop(self, *, winner: CallLeg | None = None) -> None:
        """Stop the tone and the relay (kept when ``winner`` is the target relayed: the
        bridge takes it over); stop following the targets."""
        self._stopped = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        await self._ringback.stop()
        relayed, self._relayed = self._relayed, None
        if relayed is not None and relayed is not winner:
            self._engine.unbridge(self._caller)

    # --- events of the targets ---

    def _on_event(self, target: CallLeg, event: LegEvent) -> None:
        if self._stopped or self._caller.ended is not None:
            return
        if isinstance(event, Answered):
            self._answered(target)
        elif isinstance(event, Ringing):
            self._ringing()
        elif isinstance(event, EarlyMedia):
            self._early_media(target)
        elif isinstance(event, Ended) and target is self._relayed:
            self._relayed_ended()

    def _answered(self, target: CallLeg) -> None:
        """The first answer: the tone stops and another target's early media is cut at
        once (the bridge comes once the others are cancelled)."""
        self._stopped = True
        self._ringback.halt()
        if self._relayed is not None and self._relayed is not target:
            self._relayed = None
            self._engine.unbridge(self._caller)

    def _relayed_ended(self) -> None:
        """The target whose early media the caller heard is gone while others may still
        ring: the caller hears ringback again (if it carries media and anyone rang)."""
        self._relayed = None
        self._engine.unbridge(self._caller)
        if self._rang and self._caller.state in _CARRIES_MEDIA:
            self._ringback.start()

    def _ringing(self) -> None:
        self._rang = True
        if self._relayed is not None:
            return
        if self._caller.state in _CARRIES_MEDIA:
            self._ringback.start()
        elif self._caller.state in (LegState.TRYING, LegState.INITIAL):
            self._caller.tasks.spawn(_quietly(self._caller.ring()), name=f"180 {self._caller.id}")

    def _early_media(self, target: CallLeg) -> None:
        self._rang = True
        if self._relayed is not None:
            return
        self._relayed = target
        self._caller.tasks.spawn(self._relay(target), name=f"early media {self._caller.id}")

    async def _relay(self, target: CallLeg) -> None:
        """183 to a caller without media, then its audio and the target's both ways."""
        caller = self._caller
        if self._stopped:
            return
        if caller.state not in _CARRIES_MEDIA:
            await _quietly(caller.early_media())
        await self._ringback.stop()
        if self._stopped or self._relayed is not target or target.ended is not None:
            return
        if caller.ended is None and caller.state in _CARRIES_MEDIA:
            self._engine.bridge(caller, target)


async def _quietly(signal: Awaitable[None]) -> None:
    """Await a provisional answer to the caller; its hanging up meanwhile is no error."""
    try:
        await signal
    except (LegEndedError, RuntimeError) as error:
        log.debug("caller progress not sent: %s", error)

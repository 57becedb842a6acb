"""CallLeg: one party of a call as the layers above see it — state, events, media verbs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from callbridge.engine.events import (
    Answered,
    Direction,
    EarlyMedia,
    Ended,
    EndReason,
    LegEndedError,
    LegEvent,
    LegState,
    Party,
    Ringing,
    Trying,
    transition,
)
from callbridge.engine.media_ports import MediaEndpoint
from callbridge.engine.ports import SpeechSynthesizer
from callbridge.engine.tasks import TaskOwner
from callbridge.media.plane import AudioSource
from callbridge.media.sources import AudioFileSource

log = logging.getLogger(__name__)

DEFAULT_VOICE = "en-us"
T = TypeVar("T")

_STATE_OF: dict[type, LegState] = {
    Trying: LegState.TRYING,
    Ringing: LegState.RINGING,
    EarlyMedia: LegState.EARLY_MEDIA,
    Answered: LegState.ANSWERED,
    Ended: LegState.ENDED,
}


@dataclass(frozen=True)
class PartyInfo:
    """Who is on either end of a leg, as SIP names them."""

    uri: str
    user: str
    display_name: str | None = None


class LegSignalling(Protocol):
    """The SIP side of a leg (uac.OutboundCall or uas.InboundCall)."""

    async def ring(self) -> None: ...

    async def early_media(self) -> None: ...

    async def answer(self) -> None: ...

    async def terminate(self, reason: EndReason, sip_code: int | None) -> None: ...


class CallLeg:
    """One SIP call leg with its media endpoint.

    Signalling moves it through its lifecycle with :meth:`advance`; applications use the
    verbs (answer, play, say, send_dtmf, collect_digits, record, hangup).
    """

    def __init__(
        self,
        *,
        leg_id: str,
        direction: Direction,
        caller: PartyInfo,
        callee: PartyInfo,
        media: MediaEndpoint,
        tts: SpeechSynthesizer,
    ) -> None:
        self.id = leg_id
        self.direction = direction
        self.caller = caller
        self.callee = callee
        self.media = media
        self.state = LegState.INITIAL
        self.history: list[LegEvent] = []
        self.tasks = TaskOwner(name=f"leg {leg_id}")
        self.signalling: LegSignalling | None = None
        self.sip_call_id: str | None = None
        self._hangup_detail = ""  # why this server is ending the leg (hangup's detail)
        self._tts = tts
        self._subscribers: list[Callable[[LegEvent], None]] = []
        self._ended: asyncio.Future[Ended] = asyncio.get_running_loop().create_future()
        self._answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._digits: asyncio.Queue[str] = asyncio.Queue()
        media.on_dtmf(self._digits.put_nowait)
        media.on_rtp_timeout(self._rtp_timed_out)

    def __repr__(self) -> str:
        return f"<CallLeg {self.id} {self.direction.value} {self.state.value}>"

    # --- lifecycle, driven by signalling ---

    def advance(self, event: LegEvent) -> bool:
        """Apply an event; repeated or late events (a second 180, a 183 after 200) are ignored."""
        new = _STATE_OF[type(event)]
        if new is self.state:
            return False
        try:
            self.state = transition(self.state, new)
        except Exception:
            log.debug("%r ignores %r", self, event)
            return False
        self.history.append(event)
        if isinstance(event, Answered):
            self._answered.set_result(None)
            self.media.keep_alive()
        if isinstance(event, Ended):
            event = self._with_hangup_detail(event)
            self.history[-1] = event
            self._finish(event)
        for callback in list(self._subscribers):
            callback(event)
        return True

    def _with_hangup_detail(self, ended: Ended) -> Ended:
        """A local end that signalling reports without a detail carries the one
        :meth:`hangup` was given (an application error, a limit, the shutdown)."""
        if ended.by is Party.LOCAL and not ended.detail and self._hangup_detail:
            return replace(ended, detail=self._hangup_detail)
        return ended

    def _rtp_timed_out(self) -> None:
        """The peer of this answered leg stopped sending RTP: it is gone (a BYE is sent)."""
        if self.ended is None and self.state is LegState.ANSWERED:
            log.info("%r: no RTP from the peer, ending the leg", self)
            self.tasks.spawn(self.hangup(EndReason.RTP_TIMEOUT), name=f"rtp timeout {self.id}")

    def _finish(self, ended: Ended) -> None:
        self._ended.set_result(ended)
        if not self._answered.done():
            self._answered.set_exception(LegEndedError(ended))
            self._answered.exception()  # observed: callers may never await it
        self._digits.put_nowait("")  # wake a pending collect_digits

    def subscribe(self, callback: Callable[[LegEvent], None]) -> Callable[[], None]:
        """Call ``callback`` for every later event; returns the unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    async def events(self) -> AsyncIterator[LegEvent]:
        """Every event so far, then each new one, until Ended."""
        queue: asyncio.Queue[LegEvent] = asyncio.Queue()
        for event in self.history:
            queue.put_nowait(event)
        unsubscribe = self.subscribe(queue.put_nowait)
        try:
            while True:
                event = await queue.get()
                yield event
                if isinstance(event, Ended):
                    return
        finally:
            unsubscribe()

    @property
    def ended(self) -> Ended | None:
        return self._ended.result() if self._ended.done() else None

    async def wait_answered(self) -> None:
        """Returns once answered; raises LegEndedError if it ends first."""
        await asyncio.shield(self._answered)

    async def wait_ended(self) -> Ended:
        return await asyncio.shield(self._ended)

    def _require_signalling(self) -> LegSignalling:
        if self.ended is not None:
            raise LegEndedError(self.ended)
        assert self.signalling is not None, "leg has no signalling yet"
        return self.signalling

    # --- call control ---

    async def ring(self) -> None:
        await self._require_signalling().ring()

    async def early_media(self) -> None:
        """An unanswered inbound leg: 183 with our SDP, so media reaches the caller
        before the answer (a no-op once it is answered)."""
        await self._require_signalling().early_media()

    async def answer(self) -> None:
        await self._require_signalling().answer()

    async def hangup(
        self, reason: EndReason = EndReason.HUNG_UP, sip_code: int | None = None, detail: str = ""
    ) -> Ended:
        """End the leg however its state requires (reject, CANCEL or BYE); ``detail`` says
        why, in its Ended event."""
        if self.ended is None and not self._hangup_detail:
            self._hangup_detail = detail
        if self.ended is None and self.signalling is not None:
            await self.signalling.terminate(reason, sip_code)
        if self.ended is None:
            self.advance(Ended(reason, Party.LOCAL, sip_code, detail))
        return await self.wait_ended()

    # --- media ---

    def _require_media_flowing(self) -> None:
        if self.ended is not None:
            raise LegEndedError(self.ended)
        if self.state not in (LegState.ANSWERED, LegState.EARLY_MEDIA):
            raise RuntimeError(f"{self!r}: no media before answer or early media")

    async def play(self, source: AudioSource) -> bool:
        """Play until the source ends (True) or playback is interrupted or the leg ends (False)."""
        self._require_media_flowing()
        return await self._until_ended(self.media.play(source), default=False)

    async def say(self, text: str, voice: str | None = None) -> bool:
        path = await self._tts.synthesize(text, voice or DEFAULT_VOICE)
        return await self.play(AudioFileSource(path))

    async def send_dtmf(self, digits: str) -> None:
        self._require_media_flowing()
        await self._until_ended(self.media.send_dtmf(digits), default=None)

    async def collect_digits(
        self,
        *,
        max_digits: int,
        timeout: float,
        finish_on_key: str = "#",
    ) -> str:
        """Digits the peer presses (RFC 4733): stops at max_digits, the finish key (not
        included), ``timeout`` seconds of silence between digits, or the end of the leg."""
        collected = ""
        while len(collected) < max_digits and self.ended is None:
            try:
                digit = await asyncio.wait_for(self._digits.get(), timeout)
            except TimeoutError:
                break
            if not digit:
                break
            if digit in finish_on_key:
                break
            collected += digit
        return collected

    def flush_digits(self) -> None:
        while not self._digits.empty():
            self._digits.get_nowait()

    def record(self, path: Path) -> None:
        self._require_media_flowing()
        self.media.start_recording(path)

    def stop_recording(self) -> None:
        self.media.stop_recording()

    async def _until_ended(self, awaitable: Awaitable[T], *, default: T) -> T:
        """Run a media coroutine, giving up (with ``default``) when the leg ends.

        Cancelling the caller cancels the media work too (no audio left playing)."""
        work: asyncio.Future[T] = asyncio.ensure_future(awaitable)
        ended: asyncio.Future[Ended] = asyncio.ensure_future(asyncio.shield(self._ended))
        try:
            waiters: list[asyncio.Future[Any]] = [work, ended]
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            work.cancel()
            raise
        finally:
            ended.cancel()
        if work in done:
            return work.result()
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        return default

    def stop_playback(self) -> None:
        """Interrupt the current play/say (barge-in); its call returns False."""
        self.media.stop_playback()

    async def close(self) -> None:
        """Release what the leg holds (tasks, media endpoint); called once it has ended.

        Also drops the references that make a leg a reference cycle (signalling and
        subscribers point back at it), so it is freed at once rather than by a GC pass.
        """
        await self.tasks.close()
        await self.media.close()
        self._subscribers.clear()
        self.signalling = None

"""WaitDocuments: what a caller waiting in a queue hears when its ``<Enqueue>`` names a
``waitUrl`` (Twilio's semantics).

The document at the wait URL is fetched (through the call's fetcher: signed, with the
call's parameters, under the HTTP client's URL rules) with the queue's parameters
(``QueuePosition``, ``QueueSid``, ``QueueTime``, ``AvgQueueTime``, ``CurrentQueueSize``)
and its ``<Play>``, ``<Say>`` and ``<Pause>`` play; when it ends it is fetched again.
``<Redirect>`` moves to another wait document, ``<Leave/>`` takes the caller out of the
queue, ``<Hangup/>`` ends the call; any other verb is skipped (a timeline event says so).

A wait URL that cannot serve (down, an error status, not a valid document, audio that
cannot load, documents that play nothing) ends :meth:`WaitDocuments.play` with
``failed``: the queue's music takes over, the caller stays in the queue.  The queue
cancels the play when a member answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from callbridge.callflow.errors import FetchError, InvalidProgram
from callbridge.callflow.ports import AudioLoader, DocumentFetcher, LegPort, WaitEnd
from callbridge.callflow.verbs import MAX_LOOP, Hangup, Leave, Pause, Play, Program, Redirect, Say
from callbridge.engine.events import LegEndedError

log = logging.getLogger(__name__)

Translate = Callable[[bytes, str], Program]
Note = Callable[[str, Mapping[str, Any]], Awaitable[None]]  # a timeline event on the call
Sleep = Callable[[float], Awaitable[None]]

FAILED_EVENT = "queue_wait_failed"
IGNORED_EVENT = "queue_wait_verb_ignored"
MAX_IDLE_DOCUMENTS = 10  # documents in a row that play nothing: the wait URL has failed
MIN_CYCLE = 1.0  # seconds: a document is fetched again no sooner than this after the last


class _Failed(Exception):
    """The wait URL cannot serve; ``reason`` goes to the log and the timeline."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WaitDocuments:
    def __init__(
        self,
        *,
        leg: LegPort,
        fetcher: DocumentFetcher,
        translate: Translate,
        audio: AudioLoader,
        url: str,
        method: str = "POST",
        note: Note | None = None,
        fetch_timeout: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._leg = leg
        self._fetcher = fetcher
        self._translate = translate
        self._audio = audio
        self._url = url
        self._method = method
        self._note = note
        self._fetch_timeout = fetch_timeout
        self._sleep = sleep
        self._clock = clock
        self._ignored: set[str] = set()  # verbs already reported (once each per wait)
        self._current = url  # the wait document's URL now (after any <Redirect>)

    async def play(self, params: Callable[[], Mapping[str, str]]) -> WaitEnd:
        """Until ``<Leave/>`` (``leave``), the leg ends (``hangup``) or the URL fails
        (``failed``); cancelled when a member answers."""
        try:
            return await self._loop(params)
        except LegEndedError:
            return "hangup"
        except _Failed as failed:
            reason = failed.reason
        except Exception as error:  # never drops the caller: the queue's music takes over
            log.exception("leg %s: wait documents crashed", self._leg.id)
            reason = f"internal error: {error!r}"
        log.warning("leg %s: wait URL fails, music on hold: %s", self._leg.id, reason)
        await self._event(FAILED_EVENT, {"url": self._current, "error": reason})
        return "failed"

    async def _loop(self, params: Callable[[], Mapping[str, str]]) -> WaitEnd:
        url, method = self._url, self._method
        idle = 0
        while self._leg.ended is None:
            started = self._clock()
            program = await self._fetch(url, method, params())
            end, played, redirect = await self._run(program)
            if end is not None:
                return end
            idle = 0 if played else idle + 1
            if idle >= MAX_IDLE_DOCUMENTS:
                raise _Failed(f"{idle} wait documents in a row played nothing")
            if redirect is not None:
                url, method = redirect.url, redirect.method
                self._current = url
            rest = MIN_CYCLE - (self._clock() - started)
            if rest > 0:
                await self._sleep(rest)
        return "hangup"

    async def _fetch(self, url: str, method: str, params: Mapping[str, str]) -> Program:
        try:
            async with asyncio.timeout(self._fetch_timeout):
                body = await self._fetcher.fetch(url, method, params)
        except (FetchError, TimeoutError) as error:
            raise _Failed(f"cannot fetch {method} {url}: {str(error) or 'timed out'}") from None
        try:
            return self._translate(body, url)
        except InvalidProgram as error:
            raise _Failed(f"invalid wait document from {url}: {error}") from None

    async def _run(self, program: Program) -> tuple[WaitEnd | None, bool, Redirect | None]:
        """(how the wait ended, or None; whether anything played; where to go next)."""
        played = False
        for verb in program.verbs:
            if self._leg.ended is not None:
                return "hangup", played, None
            match verb:
                case Leave():
                    return "leave", played, None
                case Hangup():
                    await self._leg.hangup()
                    return "hangup", played, None
                case Redirect():
                    return None, played, verb
                case Say() | Play():
                    await self._prompt(verb)
                    played = True
                case Pause(length=length):
                    await self._pause(length)
                    played = played or length > 0
                case _:
                    await self._ignore(type(verb).__name__)
        return None, played, None

    async def _prompt(self, prompt: Say | Play) -> None:
        for _ in range(prompt.loop or MAX_LOOP):
            if isinstance(prompt, Say):
                done = await self._leg.say(prompt.text, prompt.voice or prompt.language)
            else:
                try:
                    source = await self._audio.load(prompt.url)
                except FetchError as error:
                    raise _Failed(f"cannot load audio {prompt.url}: {error}") from None
                done = await self._leg.play(source)
            if not done:
                return

    async def _pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        ended = asyncio.ensure_future(self._leg.wait_ended())
        try:
            await asyncio.wait({sleeper, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            ended.cancel()
            await asyncio.gather(sleeper, ended, return_exceptions=True)

    async def _ignore(self, verb: str) -> None:
        if verb in self._ignored:
            return
        self._ignored.add(verb)
        log.info("leg %s: <%s> in a wait document is ignored", self._leg.id, verb)
        await self._event(IGNORED_EVENT, {"verb": verb})

    async def _event(self, name: str, data: Mapping[str, Any]) -> None:
        if self._note is None:
            return
        try:
            await self._note(name, data)
        except Exception:
            log.exception("leg %s: cannot note %s", self._leg.id, name)

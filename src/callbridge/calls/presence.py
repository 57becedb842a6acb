"""Presence (issue 13): whether a user can take a call now.

A user is ``online`` while a phone of theirs is registered, ``busy`` while one of their
legs is answered (a call to one of their phones, or from one), ``wrapup`` for the
seconds a queue gives them to rest after a call (:meth:`Presence.rest`), and
``offline`` otherwise.  Busy wins over offline (a phone in a call whose registration
lapsed is still in the call) and over wrap-up.  Ringing is not busy: a ringing phone
can still be picked by another ringer.

Presence watches every leg the engine tracks (:meth:`Presence.watch`): a leg belongs to
a user when it is outbound to the user's extension or inbound with the user's extension
as caller.  It counts each user's answered calls of the current day (server local time).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from callbridge.engine.events import Answered, Direction, Ended
from callbridge.engine.leg import CallLeg


class PresenceState(StrEnum):
    ONLINE = "online"
    BUSY = "busy"
    WRAPUP = "wrapup"
    OFFLINE = "offline"


class RegisteredContact(Protocol):
    @property
    def contact(self) -> str: ...


class Contacts(Protocol):
    """The registrar as presence reads it."""

    def lookup(self, extension: str) -> Sequence[RegisteredContact]:
        """Live contacts of a user; empty when offline."""
        ...


@dataclass(frozen=True)
class UserPresence:
    extension: str
    state: PresenceState
    contacts: tuple[str, ...]
    calls_today: int


class Presence:
    def __init__(
        self,
        *,
        contacts: Contacts,
        extensions: Collection[str],
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], date] = date.today,
    ) -> None:
        self._contacts = contacts
        self._extensions = tuple(extensions)
        self._known = frozenset(extensions)
        self._clock = clock
        self._today = today
        self._in_call: dict[str, int] = {}
        self._rest_until: dict[str, float] = {}
        self._day = today()
        self._calls_today: dict[str, int] = {}

    def state(self, extension: str) -> PresenceState:
        if self._in_call.get(extension, 0) > 0:
            return PresenceState.BUSY
        if not self._contacts.lookup(extension):
            return PresenceState.OFFLINE
        until = self._rest_until.get(extension)
        if until is not None:
            if self._clock() < until:
                return PresenceState.WRAPUP
            del self._rest_until[extension]
        return PresenceState.ONLINE

    def rest(self, extension: str, seconds: float) -> None:
        """Wrap-up: ``extension`` is not offered calls for ``seconds`` from now."""
        if extension in self._known and seconds > 0:
            self._rest_until[extension] = self._clock() + seconds

    def users(self) -> list[UserPresence]:
        """Every configured user, in configuration order."""
        return [self.user(extension) for extension in self._extensions]

    def user(self, extension: str) -> UserPresence:
        return UserPresence(
            extension=extension,
            state=self.state(extension),
            contacts=tuple(b.contact for b in self._contacts.lookup(extension)),
            calls_today=self._count_today().get(extension, 0),
        )

    def watch(self, leg: CallLeg) -> None:
        """Follow ``leg`` if it belongs to a user (the engine calls this for every leg)."""
        party = leg.callee if leg.direction is Direction.OUTBOUND else leg.caller
        extension = party.user
        if extension not in self._known:
            return
        answered = False

        def on_event(event: object) -> None:
            nonlocal answered
            if isinstance(event, Answered) and not answered:
                answered = True
                self._in_call[extension] = self._in_call.get(extension, 0) + 1
                counts = self._count_today()
                counts[extension] = counts.get(extension, 0) + 1
            elif isinstance(event, Ended) and answered:
                answered = False
                left = self._in_call.get(extension, 0) - 1
                if left > 0:
                    self._in_call[extension] = left
                else:
                    self._in_call.pop(extension, None)

        leg.subscribe(on_event)

    def _count_today(self) -> dict[str, int]:
        today = self._today()
        if today != self._day:
            self._day = today
            self._calls_today = {}
        return self._calls_today

"""InboundCallHandler: the engine's incoming-call handler.

A call from a trunk to a configured number becomes an inbound call session; a call from a
trunk to an extension, and every call not from a trunk (registered users, callers from
outside dialling extensions), go to the extension dialler; a call from a trunk to any other
number gets 404.
"""

from __future__ import annotations

import logging
from typing import Protocol

from callbridge.calls.inbound.numbers import InboundNumber, NumberPlan
from callbridge.engine.engine import IncomingCall, IncomingCallHandler
from callbridge.engine.events import EndReason

log = logging.getLogger(__name__)

NOT_FOUND = 404


class InboundSessions(Protocol):
    """Runs an inbound call to ``number`` until it has ended (the call service)."""

    async def receive(self, call: IncomingCall, number: InboundNumber) -> None: ...


class Extensions(Protocol):
    def is_extension(self, target: str) -> bool: ...


class InboundCallHandler:
    def __init__(
        self,
        *,
        numbers: NumberPlan,
        sessions: InboundSessions,
        extensions: IncomingCallHandler,
        directory: Extensions,
    ) -> None:
        """``extensions`` handles the calls that are not to a number (today
        calls.extensions.ExtensionDialer); ``directory`` says what is an extension."""
        self._numbers = numbers
        self._sessions = sessions
        self._extensions = extensions
        self._directory = directory

    async def handle(self, call: IncomingCall) -> None:
        if call.trunk is None:
            await self._extensions.handle(call)
            return
        number = self._numbers.find(call.dialled)
        if number is not None:
            await self._sessions.receive(call, number)
        elif self._directory.is_extension(call.dialled):
            await self._extensions.handle(call)
        else:
            log.info("call from trunk %s to unknown number %r: 404", call.trunk.name, call.dialled)
            await call.leg.hangup(EndReason.FAILED, NOT_FOUND, detail="unknown number")

"""InboundCallHandler's routing decisions, with fakes for what it hands calls to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from callbridge.calls.inbound.handler import InboundCallHandler
from callbridge.calls.inbound.numbers import InboundNumber, NumberPlan
from callbridge.engine.engine import IncomingCall
from callbridge.engine.events import EndReason
from callbridge.engine.routing import Trunk

CARRIER = Trunk(name="carrier", uri="sip:127.0.10.2")


@dataclass
class FakeLeg:
    ended: list[tuple[EndReason, int | None]] = field(default_factory=list)

    async def hangup(self, reason: EndReason, sip_code: int | None = None, detail: str = "") -> Any:
        self.ended.append((reason, sip_code))


@dataclass
class Recorder:
    calls: list[Any] = field(default_factory=list)

    async def handle(self, call: IncomingCall) -> None:
        self.calls.append(call)

    async def receive(self, call: IncomingCall, number: InboundNumber) -> None:
        self.calls.append((call, number))

    def is_extension(self, target: str) -> bool:
        return target == "1001"


def incoming(dialled: str, trunk: Trunk | None) -> IncomingCall:
    return IncomingCall(FakeLeg(), dialled, None, None, trunk)  # type: ignore[arg-type]


async def test_routing() -> None:
    number = InboundNumber(number="+15550199", user="1001")
    sessions, extensions = Recorder(), Recorder()
    handler = InboundCallHandler(
        numbers=NumberPlan((number,)),
        sessions=sessions,
        extensions=extensions,
        directory=extensions,
    )
    outsider = incoming("+15550199", None)  # not from a trunk: the extension dialler decides
    await handler.handle(outsider)
    assert extensions.calls == [outsider]
    to_number = incoming("15550199", CARRIER)
    await handler.handle(to_number)
    assert sessions.calls == [(to_number, number)]
    to_extension = incoming("1001", CARRIER)
    await handler.handle(to_extension)
    assert extensions.calls[-1] is to_extension
    unknown = incoming("+15550000", CARRIER)
    await handler.handle(unknown)
    assert unknown.leg.ended == [(EndReason.FAILED, 404)]  # type: ignore[attr-defined]

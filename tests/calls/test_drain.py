"""The shutdown's steps (callbridge.calls.drain) on fakes; the real server's drain is in
test_server_drain."""

from __future__ import annotations

import asyncio

import pytest
from call_world import Unlimited

from callbridge.calls.drain import SHUTDOWN_CAUSE, DrainGate, drain
from callbridge.calls.errors import ServerDraining
from callbridge.engine.events import Ended, EndReason, Party


class FakeCalls:
    def __init__(self, count: int) -> None:
        self.count = count
        self.hung_up: list[str] = []

    def __len__(self) -> int:
        return self.count

    async def hang_up_all(self, detail: str) -> None:
        self.hung_up.append(detail)
        self.count = 0


class FakeLeg:
    def __init__(self) -> None:
        self.ended: Ended | None = None

    async def hangup(
        self, reason: EndReason = EndReason.HUNG_UP, sip_code: int | None = None, detail: str = ""
    ) -> Ended:
        self.ended = Ended(reason, Party.LOCAL, sip_code, detail)
        return self.ended


class FakeEngine:
    def __init__(self, legs: int) -> None:
        self.legs = {str(n): FakeLeg() for n in range(legs)}
        self.refusing: float | None = None

    def refuse_new_calls(self, *, retry_after: float) -> None:
        self.refusing = retry_after

    @property
    def hung_up(self) -> list[str]:
        return sorted({leg.ended.detail for leg in self.legs.values() if leg.ended is not None})

    def end_all(self) -> None:
        for leg in self.legs.values():
            leg.ended = Ended(EndReason.HUNG_UP, Party.REMOTE)


def test_the_gate_admits_until_closed_then_refuses_with_retry_after() -> None:
    gate = DrainGate(inner=Unlimited())
    gate.admit(None).release()
    gate.close(retry_after=30.0)
    with pytest.raises(ServerDraining) as refused:
        gate.admit("key")
    assert refused.value.retry_after == 30.0


async def test_calls_that_end_within_the_drain_are_not_hung_up() -> None:
    gate, engine, calls = DrainGate(inner=Unlimited()), FakeEngine(legs=1), FakeCalls(1)

    async def the_call_ends() -> None:
        await asyncio.sleep(0.2)
        calls.count = 0
        engine.end_all()

    ending = asyncio.create_task(the_call_ends())
    await drain(gate=gate, engine=engine, calls=calls, seconds=5.0)
    await ending
    assert gate.closed
    assert engine.refusing == 5.0
    assert (calls.hung_up, engine.hung_up) == ([], [""])  # ended by the far end


async def test_what_is_live_after_the_drain_is_hung_up() -> None:
    gate, engine, calls = DrainGate(inner=Unlimited()), FakeEngine(legs=3), FakeCalls(1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await drain(gate=gate, engine=engine, calls=calls, seconds=0.3)
    assert loop.time() - started >= 0.3
    assert (calls.hung_up, engine.hung_up) == ([SHUTDOWN_CAUSE], [SHUTDOWN_CAUSE])
    assert engine.refusing == 1.0  # Retry-After is at least a second


async def test_a_second_signal_cuts_the_drain_short() -> None:
    gate, engine, calls = DrainGate(inner=Unlimited()), FakeEngine(legs=1), FakeCalls(1)
    hurry = asyncio.Event()
    asyncio.get_running_loop().call_later(0.1, hurry.set)
    async with asyncio.timeout(5):
        await drain(gate=gate, engine=engine, calls=calls, seconds=600.0, hurry=hurry)
    assert calls.hung_up == [SHUTDOWN_CAUSE]

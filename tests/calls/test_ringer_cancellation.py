"""RingingGroup.outcome cancelled after a leg answered (while the others are being
cancelled): the answered leg is hung up, not left up with nobody to take it (fake legs)."""

from __future__ import annotations

import asyncio

import pytest

from callbridge.callflow.verbs import DialTarget
from callbridge.calls.switch.ringer import RingingGroup
from callbridge.engine.events import EndReason


class Leg:
    def __init__(self, name: str, *, slow_cancel: bool = False) -> None:
        self.name = name
        self.answered = asyncio.Event()
        self.hangups: list[tuple[EndReason, str]] = []
        self.cancelling = asyncio.Event()
        self._slow_cancel = slow_cancel

    async def wait_answered(self) -> None:
        await self.answered.wait()

    async def hangup(
        self, reason: EndReason = EndReason.HUNG_UP, sip_code: int | None = None, detail: str = ""
    ) -> None:
        self.hangups.append((reason, detail))
        if self._slow_cancel:
            self.cancelling.set()
            await asyncio.Event().wait()  # its CANCEL takes long: the task is cancelled here


async def test_an_answer_cancelled_while_the_others_are_cancelled_is_hung_up() -> None:
    winner, loser = Leg("winner"), Leg("loser", slow_cancel=True)
    group = RingingGroup(
        legs={
            winner: DialTarget(kind="user", address="1001"),  # type: ignore[dict-item]
            loser: DialTarget(kind="user", address="1002"),  # type: ignore[dict-item]
        }
    )
    outcome = asyncio.create_task(group.outcome(give_up=asyncio.Event().wait))
    await asyncio.sleep(0)
    winner.answered.set()
    await loser.cancelling.wait()
    outcome.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outcome
    assert loser.hangups == [(EndReason.CANCELLED, "")]
    assert winner.hangups == [(EndReason.HUNG_UP, "the ringing was cancelled")]

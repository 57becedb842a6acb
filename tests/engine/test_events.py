from __future__ import annotations

import pytest

from callbridge.engine.events import (
    EndReason,
    InvalidTransition,
    LegState,
    reason_for_status,
    status_for_reason,
    transition,
)


def test_lifecycle_moves_forward_only() -> None:
    state = transition(LegState.INITIAL, LegState.TRYING)
    state = transition(state, LegState.RINGING)
    state = transition(state, LegState.ANSWERED)
    state = transition(state, LegState.ENDED)
    with pytest.raises(InvalidTransition):
        transition(state, LegState.ANSWERED)
    with pytest.raises(InvalidTransition):
        transition(LegState.ANSWERED, LegState.RINGING)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (486, EndReason.BUSY),
        (600, EndReason.BUSY),
        (603, EndReason.DECLINED),
        (480, EndReason.NO_ANSWER),
        (487, EndReason.CANCELLED),
        (404, EndReason.FAILED),
    ],
)
def test_status_maps_to_reason(status: int, reason: EndReason) -> None:
    assert reason_for_status(status) is reason


def test_reason_maps_back_to_a_final_status() -> None:
    for reason in EndReason:
        assert 400 <= status_for_reason(reason) < 700

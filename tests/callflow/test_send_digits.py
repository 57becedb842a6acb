"""plan_send_digits: digit runs and waits."""

from __future__ import annotations

import pytest

from callbridge.callflow.digits import Digits, Wait, plan_send_digits
from callbridge.callflow.errors import InvalidVerb


def test_waits_and_digit_runs() -> None:
    assert plan_send_digits("WW1w23") == (
        Wait(1.0),
        Wait(1.0),
        Digits("1"),
        Wait(0.5),
        Digits("23"),
    )


def test_contract_example_waits_four_seconds_then_sends() -> None:
    steps = plan_send_digits("WWWW101")
    assert sum(step.seconds for step in steps if isinstance(step, Wait)) == 4.0
    assert steps[-1] == Digits("101")


def test_every_dtmf_key_is_accepted() -> None:
    assert plan_send_digits("0123456789*#ABCD") == (Digits("0123456789*#ABCD"),)


def test_empty_string_is_no_steps() -> None:
    assert plan_send_digits("") == ()


@pytest.mark.parametrize("text", ["12x", "1 2", "a", "1-2", "w,"])
def test_other_characters_are_rejected(text: str) -> None:
    with pytest.raises(InvalidVerb, match="invalid character"):
        plan_send_digits(text)

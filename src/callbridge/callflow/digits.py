"""Send-digits strings: DTMF keys interleaved with 'w' (0.5 s) and 'W' (1 s) waits."""

from __future__ import annotations

from dataclasses import dataclass

from callbridge.callflow.errors import InvalidVerb

DTMF_KEYS = frozenset("0123456789*#ABCD")
WAIT_SECONDS = {"w": 0.5, "W": 1.0}


@dataclass(frozen=True)
class Digits:
    """A run of DTMF keys sent back to back."""

    keys: str


@dataclass(frozen=True)
class Wait:
    """A pause before the next step."""

    seconds: float


DigitStep = Digits | Wait


def plan_send_digits(text: str) -> tuple[DigitStep, ...]:
    """``"WW1w23"`` -> ``(Wait(1.0), Wait(1.0), Digits("1"), Wait(0.5), Digits("23"))``.

    Raises :class:`InvalidVerb` for any character other than 0-9 * # A-D w W.
    """
    steps: list[DigitStep] = []
    run = ""
    for char in text:
        if char in DTMF_KEYS:
            run += char
            continue
        if char not in WAIT_SECONDS:
            raise InvalidVerb(f"invalid character {char!r} in digits {text!r}")
        if run:
            steps.append(Digits(run))
            run = ""
        steps.append(Wait(WAIT_SECONDS[char]))
    if run:
        steps.append(Digits(run))
    return tuple(steps)


def require_dtmf_keys(keys: str, what: str) -> None:
    """Raise :class:`InvalidVerb` unless every character of ``keys`` is a DTMF key."""
    bad = sorted(set(keys) - DTMF_KEYS)
    if bad:
        raise InvalidVerb(f"{what}: invalid DTMF keys {''.join(bad)!r}")

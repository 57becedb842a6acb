"""Retry schedule of failed webhook attempts: exponential, capped, jittered, bounded."""

from __future__ import annotations

from dataclasses import dataclass

_MAX_EXPONENT = 64


@dataclass(frozen=True, kw_only=True)
class Backoff:
    base: float = 1.0
    factor: float = 2.0
    cap: float = 300.0
    max_attempts: int = 12
    jitter: float = 0.2  # a delay is shortened by up to this fraction, at random

    def __post_init__(self) -> None:
        if self.base <= 0 or self.factor < 1 or self.cap < self.base:
            raise ValueError("backoff needs base > 0, factor >= 1 and cap >= base")
        if self.max_attempts < 1 or not 0 <= self.jitter < 1:
            raise ValueError("backoff needs max_attempts >= 1 and 0 <= jitter < 1")

    def delay(self, attempt: int, rand: float) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based); rand in [0, 1)."""
        exponent = min(max(attempt - 1, 0), _MAX_EXPONENT)
        raw = min(self.cap, self.base * self.factor**exponent)
        return raw * (1.0 - self.jitter * rand)

    def exhausted(self, attempts: int) -> bool:
        """True once ``attempts`` attempts have failed and no more are allowed."""
        return attempts >= self.max_attempts

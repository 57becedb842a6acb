"""Fakes for store tests: a clock moved by hand, a listener that counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class StepClock:
    """Starts at a fixed instant; each ``now()`` is one millisecond after the last."""

    def __init__(self) -> None:
        self._at = datetime(2025, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        self._at += timedelta(milliseconds=1)
        return self._at

    def advance(self, seconds: float) -> None:
        self._at += timedelta(seconds=seconds)


class Notifications:
    def __init__(self) -> None:
        self.count = 0

    def notify(self) -> None:
        self.count += 1

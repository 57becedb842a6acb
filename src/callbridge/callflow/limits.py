"""What one call's application may spend: verbs run, documents fetched (in all and within
any minute) and documents in a row that play nothing.  Past any of them the program is
aborted (:class:`ProgramAbort`)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

FETCH_WINDOW = 60.0


@dataclass(frozen=True, kw_only=True)
class RunnerLimits:
    """Guards against applications that would spin forever or stall the call."""

    max_verbs: int = 10_000  # verbs per runner (per call)
    max_idle_documents: int = 10  # consecutive documents that play nothing
    # Documents fetched per call (<Redirect>, every verb's action), in all and within any
    # minute: a <Pause length="0.2"/><Redirect> to itself would fetch 5 a second until
    # max_verbs, for 17 minutes.
    max_documents: int = 500
    max_documents_per_minute: int = 30
    fetch_timeout: float = 30.0
    announcement_timeout: float = 15.0


class ProgramAbort(Exception):
    """The program cannot go on; ``reason`` is logged and returned in ``Failed``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProgramBudget:
    """One runner's counts against its :class:`RunnerLimits`; ``clock`` is monotonic."""

    def __init__(self, *, limits: RunnerLimits, clock: Callable[[], float]) -> None:
        self._limits = limits
        self._clock = clock
        self._documents = 0
        self._recent_fetches: deque[float] = deque()  # clock() of each fetch in the window
        self._verbs_run = 0
        self._idle_documents = 0

    def count_verb(self) -> None:
        self._verbs_run += 1
        if self._verbs_run > self._limits.max_verbs:
            raise ProgramAbort(f"more than {self._limits.max_verbs} verbs executed")

    def count_document(self, *, progress: bool) -> None:
        """One more document to fetch; ``progress``: the one before played something."""
        self._idle_documents = 0 if progress else self._idle_documents + 1
        if self._idle_documents > self._limits.max_idle_documents:
            raise ProgramAbort(f"{self._idle_documents} documents in a row without any media")
        self._count_fetch()

    def _count_fetch(self) -> None:
        """Refused past ``max_documents`` for the call, or past ``max_documents_per_minute``
        within the last minute."""
        limits = self._limits
        self._documents += 1
        if self._documents > limits.max_documents:
            raise ProgramAbort(f"more than {limits.max_documents} documents fetched for the call")
        now = self._clock()
        recent = self._recent_fetches
        recent.append(now)
        while recent[0] <= now - FETCH_WINDOW:
            recent.popleft()
        if len(recent) > limits.max_documents_per_minute:
            raise ProgramAbort(
                f"more than {limits.max_documents_per_minute} documents fetched within a minute"
            )

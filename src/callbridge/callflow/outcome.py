"""How a program run ended: the value :meth:`CallflowRunner.run` returns."""

from __future__ import annotations

from dataclasses import dataclass

from callbridge.callflow.verbs import Program
from callbridge.engine.events import Ended


@dataclass(frozen=True, kw_only=True)
class Completed:
    """The program ran out of verbs or ended the call itself (Hangup, Reject)."""


@dataclass(frozen=True, kw_only=True)
class HungUp:
    """The leg ended before the program did."""

    ended: Ended


@dataclass(frozen=True, kw_only=True)
class Redirected:
    """:meth:`CallflowRunner.redirect` interrupted the program; the owner continues at ``url``
    (or with ``program``, an inline document: :meth:`CallflowRunner.replace`)."""

    url: str
    method: str
    program: Program | None = None


@dataclass(frozen=True, kw_only=True)
class Failed:
    """The application broke (bad document, unreachable URL, guard tripped); the caller heard
    the error announcement and the leg was hung up."""

    error: str


Outcome = Completed | HungUp | Redirected | Failed

"""Lines: configured inbound destinations with their own routing rules (seed-003).

A line rings its ``users`` (registered extensions) and ``numbers`` (external numbers,
through the default trunk) all at once for ``ring_timeout`` seconds; when nobody answers,
it forwards to ``forward_to`` (e.g. the manager's mobile) for ``forward_timeout`` seconds.
An inbound call to the line and a ``callback.start`` from it follow the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from callbridge.callflow.verbs import DialGroup, DialTarget, TargetKind
from callbridge.calls.switch.ringer import Rung
from callbridge.engine.events import Ended, Party
from callbridge.vocabulary import reason_for_dial_status


@dataclass(frozen=True, kw_only=True)
class Line:
    """``id`` is what API users name (``FROM_LINE``, e.g. ``reg1332``); ``number`` is the
    caller ID the client sees when the line calls out (``None``: the line's id);
    ``api_keys`` are the names of the API keys that may use it (empty: every key)."""

    id: str
    name: str
    users: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    ring_timeout: float = 20.0
    forward_to: str | None = None
    forward_timeout: float = 30.0
    number: str | None = None
    api_keys: tuple[str, ...] = ()

    @property
    def caller_id(self) -> str:
        return self.number or self.id

    def usable_by(self, key_name: str) -> bool:
        return not self.api_keys or key_name in self.api_keys

    def groups(self) -> tuple[DialGroup, ...]:
        """The line's routing as dial groups: everyone at once, then the forward."""
        first = (
            *(DialTarget(kind="user", address=user) for user in self.users),
            *(_external(number) for number in self.numbers),
        )
        groups = [DialGroup(targets=first, ring_timeout=self.ring_timeout)] if first else []
        if self.forward_to is not None:
            forward = (_external(self.forward_to),)
            groups.append(DialGroup(targets=forward, ring_timeout=self.forward_timeout))
        return tuple(groups)


def _external(address: str) -> DialTarget:
    """A number (through the default trunk) or a SIP URI."""
    kind: TargetKind = "sip" if address.lower().startswith(("sip:", "sips:")) else "number"
    return DialTarget(kind=kind, address=address)


def line_failure(line: Line, rung: Rung) -> Ended:
    """Why nobody on ``line`` answered, as the end of the line's leg: the group's status
    and the final response of the leg that speaks for it (``Rung.failure``), or, when a
    target that could not be dialled speaks (an offline user, no route), its end, by
    this server."""
    failure = rung.failure
    if failure is not None and not rung.dialled(failure):
        detail = f"line {line.id}: {failure.detail}"
        return Ended(failure.reason, Party.LOCAL, failure.sip_code, detail)
    reason = reason_for_dial_status(rung.status)
    detail = f"line {line.id}: {rung.status}"
    if failure is None:
        return Ended(reason, Party.LOCAL, None, detail)
    return Ended(reason, Party.REMOTE, failure.sip_code, detail)

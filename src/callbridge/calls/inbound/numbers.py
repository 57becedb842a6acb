"""The configured numbers (``[[numbers]]``) and the program each runs for a call to it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from callbridge.callflow.verbs import (
    Dial,
    DialGroup,
    DialTarget,
    Enqueue,
    Program,
    Redirect,
    TargetKind,
    Voicemail,
)
from callbridge.calls.control.settings import NumberControl
from callbridge.calls.inbound.number_match import normalized_number
from callbridge.calls.lines import Line
from callbridge.calls.request import StatusCallback

USER_RING_TIMEOUT = 30.0


@dataclass(frozen=True, kw_only=True)
class InboundNumber:
    """One number and its route: exactly one of ``voice_url``, ``user``, ``line``,
    ``forward_to``, ``queue``, ``control`` (seed-004 call control, with its ``control_url``),
    or only a ``mailbox`` (the caller leaves a message there).
    ``api_key_id`` (and its name, the ``AccountSid``) owns its calls."""

    number: str
    voice_url: str | None = None
    voice_method: str = "POST"
    user: str | None = None
    line: Line | None = None
    forward_to: str | None = None
    queue: str | None = None
    status_callback: StatusCallback | None = None
    api_key_id: str | None = None
    api_key_name: str | None = None
    mailbox: str | None = None  # where its <Voicemail> goes when it names no mailbox
    record: bool = False  # each call is recorded from its answer (as an outbound record=true)

    control: NumberControl | None = None

    def __post_init__(self) -> None:
        controlled = self.control is not None and self.control.control is not None
        routes = (
            self.voice_url,
            self.user,
            self.line,
            self.forward_to,
            self.queue,
            controlled or None,
        )
        count = sum(route is not None for route in routes)
        if count > 1 or (count == 0 and self.mailbox is None):
            raise ValueError(f"number {self.number!r} needs exactly one route")

    @property
    def runs_application(self) -> bool:
        return self.voice_url is not None

    @property
    def controlled(self) -> NumberControl | None:
        """The call control, when it is the number's route."""
        if self.control is not None and self.control.control is not None:
            return self.control
        return None

    def program(self) -> Program:
        """What runs on the caller's leg: the application's first document, the queue
        (its overflow plan on an overflow), or a Dial of the user, the line's groups, or
        the forward target, or the mailbox."""
        if self.controlled is not None:
            raise ValueError(f"number {self.number!r} runs call control, not a program")
        if self.queue is not None:
            return Program(verbs=(Enqueue(queue=self.queue, run_overflow=True),), base_url="")
        if self.voice_url is not None:
            redirect = Redirect(url=self.voice_url, method=self.voice_method)
            return Program(verbs=(redirect,), base_url=self.voice_url)
        if self.user is None and self.line is None and self.forward_to is None:
            return Program(verbs=(Voicemail(mailbox=self.mailbox),), base_url="")
        return Program(verbs=(Dial(groups=self._groups()),), base_url="")

    def _groups(self) -> tuple[DialGroup, ...]:
        if self.line is not None:
            return self.line.groups()
        if self.user is not None:
            target = DialTarget(kind="user", address=self.user)
            return (DialGroup(targets=(target,), ring_timeout=USER_RING_TIMEOUT),)
        assert self.forward_to is not None
        sip = self.forward_to.lower().startswith(("sip:", "sips:"))
        kind: TargetKind = "sip" if sip else "number"
        target = DialTarget(kind=kind, address=self.forward_to)
        return (DialGroup(targets=(target,), ring_timeout=USER_RING_TIMEOUT),)


class NumberPlan:
    """The numbers by their digits (:mod:`.number_match`)."""

    def __init__(self, numbers: Iterable[InboundNumber]) -> None:
        self._numbers: dict[str, InboundNumber] = {}
        for number in numbers:
            key = normalized_number(number.number)
            if key is None:
                raise ValueError(f"{number.number!r} is not a number")
            if key in self._numbers:
                raise ValueError(f"number {number.number!r} is configured twice")
            self._numbers[key] = number

    def find(self, dialled: str) -> InboundNumber | None:
        key = normalized_number(dialled)
        return None if key is None else self._numbers.get(key)

    def __len__(self) -> int:
        return len(self._numbers)

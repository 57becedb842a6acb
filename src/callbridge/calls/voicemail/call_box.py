"""CallMailbox: the ``<Voicemail>`` verb of one call, run by the voicemail service with the
call's caller and number, and the number's mailbox when the verb names none."""

from __future__ import annotations

from typing import Protocol

from callbridge.callflow.errors import InvalidVerb
from callbridge.callflow.ports import LegPort
from callbridge.callflow.verbs import Voicemail as VoicemailVerb
from callbridge.calls.voicemail.mailbox import Mailbox
from callbridge.calls.voicemail.service import DepositLeg


class DepositService(Protocol):
    """The part of :class:`callbridge.calls.voicemail.Voicemail` a call uses."""

    def has_mailbox(self, mailbox: str) -> bool: ...

    def mailbox(self, mailbox: str) -> Mailbox: ...

    async def deposit(
        self,
        leg: DepositLeg,
        *,
        mailbox: str,
        announcement: str | None,
        as_attachment: bool,
        caller: str,
        number: str,
    ) -> bool: ...


class CallMailbox:
    def __init__(
        self, *, service: DepositService, caller: str, number: str, mailbox: str | None
    ) -> None:
        self._service = service
        self._caller = caller
        self._number = number
        self._mailbox = mailbox

    async def deposit(self, leg: LegPort, verb: VoicemailVerb) -> bool:
        name = verb.mailbox or self._mailbox
        if name is None:
            raise InvalidVerb("<Voicemail> names no mailbox and the number has none")
        if not self._service.has_mailbox(name):
            raise InvalidVerb(f"<Voicemail>: no mailbox {name[:64]!r}")
        attach = verb.as_attachment
        if attach is None:
            attach = self._service.mailbox(name).as_attachment
        return await self._service.deposit(
            leg,
            mailbox=name,
            announcement=verb.announcement,
            as_attachment=attach,
            caller=self._caller,
            number=self._number,
        )

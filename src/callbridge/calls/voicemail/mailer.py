"""VoicemailMailer: sends the queued mails (``voicemail_mails``) in order, each once.

The oldest unsent mail is sent, then marked sent, before the next is looked at; a failure
(SMTP server down, a temporary refusal) leaves it at the head and it is tried again after
``retry_seconds`` — so an SMTP server that comes back gets the mails in the order the
messages were left, also after a restart (the queue is in the database).  A permanent
refusal (5xx) of a mail is logged and the mail given up, so it cannot block the rest.
A crash between the server's acceptance and the mark would send that one mail again:
every attempt carries the same Message-ID (:mod:`.mail`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from callbridge.calls.voicemail.mail import MailSettings, compose
from callbridge.calls.voicemail.mp3 import mp3_file
from callbridge.store.clock import Clock
from callbridge.store.voicemails import OwedMail, VoicemailRepository

log = logging.getLogger(__name__)


class MailRefused(Exception):
    """The SMTP server refused this mail for good (a 5xx answer)."""


class MailTransport(Protocol):
    """Hands one mail to the SMTP server; raises MailRefused (permanent) or any other
    exception (try again later)."""

    async def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True, kw_only=True)
class SmtpSettings:
    host: str
    port: int
    username: str = ""
    password: str = ""
    starttls: bool = False
    tls: bool = False
    timeout: float = 30.0


class SmtpTransport:
    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage) -> None:
        s = self._settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.host,
                port=s.port,
                username=s.username or None,
                password=s.password or None,
                use_tls=s.tls,
                start_tls=s.starttls,
                timeout=s.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if all(error.code >= 500 for error in exc.recipients):
                raise MailRefused(str(exc)) from exc
            raise
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500 and not isinstance(exc, aiosmtplib.SMTPAuthenticationError):
                raise MailRefused(f"{exc.code} {exc.message}") from exc
            raise


class VoicemailMailer:
    def __init__(
        self,
        *,
        repository: VoicemailRepository,
        transport: MailTransport,
        settings: MailSettings,
        clock: Clock,
        retry_seconds: float,
    ) -> None:
        self._repository = repository
        self._transport = transport
        self._settings = settings
        self._clock = clock
        self._retry = retry_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A mail was queued."""
        self._wake.set()

    async def run(self) -> None:
        """Send until cancelled."""
        while True:
            self._wake.clear()
            try:
                mail = await self._repository.next_mail()
            except Exception:  # the database may be briefly away
                log.exception("voicemail mail: cannot read the queue")
                await asyncio.sleep(self._retry)
                continue
            if mail is None:
                await self._wake.wait()
                continue
            if not await self._send(mail):
                await asyncio.sleep(self._retry)

    async def _send(self, mail: OwedMail) -> bool:
        """True when the mail is done with (sent, or refused for good)."""
        record = mail.voicemail
        try:
            mp3 = None
            if mail.as_attachment:
                path = await asyncio.to_thread(mp3_file, Path(record.path))
                mp3 = await asyncio.to_thread(path.read_bytes)
            message = compose(
                self._settings,
                mail_id=mail.id,
                recipients=mail.recipients,
                record=record,
                mp3=mp3,
            )
            await self._transport.send(message)
        except MailRefused as refused:
            log.error("voicemail mail %d (message %d) refused: %s", mail.id, record.id, refused)
            await self._repository.mail_given_up(mail.id, at=self._clock.now(), error=str(refused))
            return True
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "voicemail mail %d (message %d) not sent (attempt %d), trying again in %g s: %s",
                mail.id,
                record.id,
                mail.attempts + 1,
                self._retry,
                error,
            )
            await self._record_failure(mail.id, error)
            return False
        await self._repository.mail_sent(mail.id, at=self._clock.now())
        log.info(
            "voicemail mail %d (message %d) sent to %d recipients",
            mail.id,
            record.id,
            len(mail.recipients),
        )
        return True

    async def _record_failure(self, mail_id: int, error: str) -> None:
        try:
            await self._repository.mail_failed(mail_id, error=error)
        except Exception:
            log.exception("voicemail mail %d: cannot note the failure", mail_id)

"""VoicemailMailer: sends the queued mails (``voicemail_mails``), each once, a mailbox's
in the order its messages were left.

The mailer claims the oldest mail it may send (:meth:`VoicemailRepository.claim_mail`: the
head of its mailbox's queue, leased to this node for ``lease_seconds``), sends it, then
marks it sent, before it looks for the next.  While the SMTP conversation lasts the lease
is renewed every third of its length; a lease lost meanwhile (the database says another
node holds the mail) cancels the send.  A failure (SMTP server down, a temporary refusal)
leaves the mail leased to this node, which tries again after ``retry_seconds`` — so an
SMTP server that comes back gets the mails in order, also after a restart (the queue is
in the database).  A permanent refusal (5xx) of a mail is logged and the mail given up,
so it cannot block the rest of its mailbox.

Several nodes sharing one database each run a mailer: a mail is claimed by one of them;
the others send other mailboxes' mails meanwhile, and look for work every
``poll_seconds`` (a mail queued by another node) or when a lease they wait for runs out
— a node that died mid-send loses the mail to another node once its lease has run out; a
node that stops hands its mails back (any node may send them at once).
A crash (or a lost lease) between the server's acceptance and the mark would send that
one mail again: every attempt carries the same Message-ID (:mod:`.mail`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from callbridge.calls.voicemail.mail import MailSettings, compose
from callbridge.calls.voicemail.mp3 import mp3_file
from callbridge.store.clock import Clock
from callbridge.store.voicemails import OwedMail, VoicemailRecord, VoicemailRepository

log = logging.getLogger(__name__)


class MailRefused(Exception):
    """The SMTP server refused this mail for good (a 5xx answer)."""


class MessageFiles(Protocol):
    """Where a message's WAV file is on this node (``MessageAudio``; ``None``: nowhere)."""

    async def path_of(self, record: VoicemailRecord) -> Path | None: ...


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


DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_POLL_SECONDS = 5.0
RELEASE_SECONDS = 5.0  # at shutdown, what handing the mails back may take


class VoicemailMailer:
    def __init__(
        self,
        *,
        repository: VoicemailRepository,
        transport: MailTransport,
        settings: MailSettings,
        clock: Clock,
        retry_seconds: float,
        node: str = "local",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        files: MessageFiles | None = None,
    ) -> None:
        """``files`` finds a message's audio (None: only at the path it was recorded to)."""
        self._repository = repository
        self._transport = transport
        self._settings = settings
        self._clock = clock
        self._retry = retry_seconds
        self._node = node
        self._lease = timedelta(seconds=lease_seconds)
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._files = files

    def wake(self) -> None:
        """A mail was queued."""
        self._wake.set()

    async def run(self) -> None:
        """Send until cancelled; then hand back the mails this node holds, so another
        node sharing the database sends them at once (not when their leases run out)."""
        await self._release("earlier")
        try:
            await self._work()
        finally:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RELEASE_SECONDS):
                    await self._release("its")

    async def _release(self, which: str) -> None:
        try:
            await self._repository.release_mails(node=self._node)
        except Exception:
            log.exception("voicemail mail: cannot release this node's %s leases", which)

    async def _work(self) -> None:
        while True:
            self._wake.clear()
            now = self._clock.now()
            try:
                mail = await self._repository.claim_mail(
                    node=self._node, now=now, lease_until=now + self._lease
                )
            except Exception:  # the database may be briefly away
                log.exception("voicemail mail: cannot read the queue")
                await asyncio.sleep(self._retry)
                continue
            if mail is None:
                await self._idle(now)
                continue
            try:
                done = await self._send_leased(mail)
            except Exception:  # recording the outcome failed: the lease decides who retries
                log.exception("voicemail mail %d: cannot record the outcome", mail.id)
                done = False
            if not done:
                await asyncio.sleep(self._retry)

    async def _idle(self, now: datetime) -> None:
        """Waits for a mail queued here, another node's, or a lease running out."""
        wait = self._poll
        try:
            free_at = await self._repository.next_free_at(node=self._node, now=now)
        except Exception:
            free_at = None
        if free_at is not None:
            wait = min(wait, max(0.0, (free_at - now).total_seconds()) + 0.05)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._wake.wait()

    async def _send_leased(self, mail: OwedMail) -> bool:
        """Sends the mail while renewing its lease; True when done with it (sent,
        refused for good, or taken over by another node)."""
        sending = asyncio.create_task(self._send(mail), name=f"voicemail-mail-{mail.id}")
        try:
            while True:
                done, _ = await asyncio.wait({sending}, timeout=self._lease.total_seconds() / 3)
                if done:
                    return sending.result()
                if not await self._renew(mail.id):
                    log.warning(
                        "voicemail mail %d: another node took it over; this send is cancelled",
                        mail.id,
                    )
                    return True
        finally:
            if not sending.done():
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sending

    async def _renew(self, mail_id: int) -> bool:
        try:
            return await self._repository.renew_mail(
                mail_id, node=self._node, lease_until=self._clock.now() + self._lease
            )
        except Exception:  # the database may be briefly away: keep sending
            log.exception("voicemail mail %d: cannot renew the lease", mail_id)
            return True

    async def _send(self, mail: OwedMail) -> bool:
        """True when the mail is done with (sent, or refused for good)."""
        record = mail.voicemail
        try:
            mp3 = None
            if mail.as_attachment:
                wav = await self._wav(record)
                if wav is None:
                    name = Path(record.path).name
                    await self._hand_back(mail, f"the recording {name} is not on this node")
                    return False
                path = await asyncio.to_thread(mp3_file, wav)
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
            held = await self._repository.mail_given_up(
                mail.id, node=self._node, at=self._clock.now(), error=str(refused)
            )
            self._note_lost(mail.id, held)
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
        held = await self._repository.mail_sent(mail.id, node=self._node, at=self._clock.now())
        self._note_lost(mail.id, held)
        log.info(
            "voicemail mail %d (message %d) sent to %d recipients",
            mail.id,
            record.id,
            len(mail.recipients),
        )
        return True

    async def _wav(self, record: VoicemailRecord) -> Path | None:
        if self._files is not None:
            return await self._files.path_of(record)
        path = Path(record.path)
        return path if await asyncio.to_thread(path.is_file) else None

    async def _hand_back(self, mail: OwedMail, why: str) -> None:
        """Another node may be able to send it (its recording is on that node's disk)."""
        log.warning(
            "voicemail mail %d (message %d) handed back, another node may send it: %s",
            mail.id,
            mail.voicemail.id,
            why,
        )
        lease_until = self._clock.now() + timedelta(seconds=self._retry)
        await self._repository.mail_failed(
            mail.id, node=self._node, error=why, lease_until=lease_until, keep=False
        )

    def _note_lost(self, mail_id: int, held: bool) -> None:
        if not held:
            log.warning(
                "voicemail mail %d: its lease had run out (another node took it over, or it "
                "was deleted) before the outcome was recorded",
                mail_id,
            )

    async def _record_failure(self, mail_id: int, error: str) -> None:
        # This node keeps the mail over the pause: it tries again itself.
        lease_until = self._clock.now() + timedelta(seconds=self._retry) + self._lease
        try:
            await self._repository.mail_failed(
                mail_id, node=self._node, error=error, lease_until=lease_until
            )
        except Exception:
            log.exception("voicemail mail %d: cannot note the failure", mail_id)

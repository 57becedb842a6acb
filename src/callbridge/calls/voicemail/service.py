"""Voicemail: leaving a message in a mailbox (greeting, beep, recording), storing it, and
what the API and the message-waiting lights read and change.

Each kept message is written with its mail and its audio in one transaction (the mailer
sends it from there, :mod:`.mailer`; every node serves its audio, :mod:`.audio`), and the
users of its mailbox are told its counts changed (on other nodes: :mod:`.lights`)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from callbridge.calls.voicemail.audio import MessageAudio
from callbridge.calls.voicemail.errors import UnknownMailbox, VoicemailNotFound
from callbridge.calls.voicemail.mailbox import Mailbox
from callbridge.calls.voicemail.recording import RecordingLeg, record_message
from callbridge.engine.events import LegEndedError, LegState
from callbridge.media.plane import AudioSource
from callbridge.media.sources import ToneSource
from callbridge.store.clock import Clock
from callbridge.store.voicemails import NewVoicemail, VoicemailRecord, VoicemailRepository

log = logging.getLogger(__name__)

MIN_SECONDS = 1.0  # shorter messages are not kept
GREETING = (
    "The person you are calling is not available. Please leave a message after the tone."
    " Press the hash key or hang up when you are done."
)
MAX_LIST = 500


def beep() -> AudioSource:
    return ToneSource(frequencies=(1000.0,), duration_s=0.5, level=0.4)


class DepositLeg(RecordingLeg, Protocol):
    """The part of :class:`callbridge.engine.leg.CallLeg` a deposit drives."""

    state: LegState

    async def answer(self) -> None: ...

    async def play(self, source: AudioSource) -> bool: ...

    async def say(self, text: str, voice: str | None = None) -> bool: ...


class Announcements(Protocol):
    """Greetings by announcement id (branch prompts' AnnouncementLibrary); ``source``
    raises ``LookupError`` for an unknown id."""

    async def source(self, announcement_id: str) -> AudioSource: ...


class MessageWaitingNotifier(Protocol):
    """Told whose message-waiting lights may have changed (branch mwi)."""

    def mailbox_changed(self, users: Sequence[str]) -> None: ...


class Voicemail:
    def __init__(
        self,
        *,
        mailboxes: Iterable[Mailbox],
        repository: VoicemailRepository,
        clock: Clock,
        audio: MessageAudio,
        announcements: Announcements | None = None,
        notifier: MessageWaitingNotifier | None = None,
        mail_queued: Callable[[], None] = lambda: None,
    ) -> None:
        """``audio`` keeps the WAV files; ``mail_queued`` wakes the mailer."""
        self._mailboxes = {mailbox.id: mailbox for mailbox in mailboxes}
        self._boxes_of: dict[str, tuple[str, ...]] = {}  # user → the mailboxes it uses
        for box in self._mailboxes.values():
            for user in box.users:
                self._boxes_of[user] = (*self._boxes_of.get(user, ()), box.id)
        self._repository = repository
        self._clock = clock
        self._audio = audio
        self._announcements = announcements
        self._notifier = notifier
        self._mail_queued = mail_queued

    def set_notifier(self, notifier: MessageWaitingNotifier | None) -> None:
        self._notifier = notifier

    def set_announcements(self, announcements: Announcements | None) -> None:
        self._announcements = announcements

    def has_mailbox(self, mailbox: str) -> bool:
        return mailbox in self._mailboxes

    def mailbox(self, mailbox: str) -> Mailbox:
        try:
            return self._mailboxes[mailbox]
        except KeyError:
            raise UnknownMailbox(mailbox) from None

    # --- leaving a message ---

    async def deposit(
        self,
        leg: DepositLeg,
        *,
        mailbox: str,
        announcement: str | None,
        as_attachment: bool,
        caller: str,
        number: str,
    ) -> bool:
        """Greeting, beep, record; answers the leg if not yet answered.  True if a message
        was kept (at least :data:`MIN_SECONDS`).  Raises UnknownMailbox."""
        box = self.mailbox(mailbox)
        try:
            if leg.state is not LegState.ANSWERED:
                await leg.answer()
            if not await self._greet(leg, announcement or box.announcement):
                return False
            if not await leg.play(beep()):
                return False
            recorded = await record_message(
                leg, path=self._new_path(box.id), max_seconds=box.max_seconds
            )
        except LegEndedError:
            return False
        if recorded.duration < MIN_SECONDS:
            await asyncio.to_thread(recorded.path.unlink, missing_ok=True)
            log.info(
                "mailbox %s: %.1f s message from %s not kept", box.id, recorded.duration, caller
            )
            return False
        stored = await self._repository.add(
            NewVoicemail(
                mailbox=box.id,
                caller=caller,
                number=number,
                created_at=self._clock.now(),
                duration=round(recorded.duration, 2),
                path=str(recorded.path),
                token=secrets.token_urlsafe(24),
                recipients=box.emails,
                as_attachment=as_attachment,
            ),
            wav=await asyncio.to_thread(recorded.path.read_bytes),
        )
        log.info(
            "mailbox %s: message %d from %s, %.1f s (ended by %s)",
            box.id,
            stored.id,
            caller,
            stored.duration,
            recorded.end,
        )
        if box.emails:
            self._mail_queued()
        self._changed(box)
        return True

    async def _greet(self, leg: DepositLeg, announcement: str | None) -> bool:
        library = self._announcements
        if announcement is not None and library is not None:
            try:
                source = await library.source(announcement)
            except LookupError:  # none, or deleted (on any node): the sentence plays
                pass
            else:
                return await leg.play(source)
        if announcement is not None:
            log.info("announcement %r not available: the built-in greeting plays", announcement)
        return await leg.say(GREETING)

    def _new_path(self, mailbox: str) -> Path:
        path = self._audio.new_path(mailbox, uuid.uuid4().hex)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _changed(self, box: Mailbox) -> None:
        if self._notifier is not None and box.users:
            try:
                self._notifier.mailbox_changed(box.users)
            except Exception:  # a light not updated must not lose the message
                log.exception("message waiting: mailbox %s not notified", box.id)

    # --- reading and changing messages ---

    async def counts(self, user: str) -> tuple[int, int]:
        """(new, old) messages of the mailboxes whose users include ``user``."""
        boxes = [box.id for box in self._mailboxes.values() if user in box.users]
        return await self._repository.counts(boxes)

    async def counts_of(self, users: Iterable[str]) -> dict[str, tuple[int, int]]:
        """(new, old) of each of these users that has a mailbox, in one query."""
        wanted = {user: self._boxes_of[user] for user in users if user in self._boxes_of}
        boxes = sorted({box for each in wanted.values() for box in each})
        each = await self._repository.counts_by_mailbox(boxes) if boxes else {}
        found: dict[str, tuple[int, int]] = {}
        for user, theirs in wanted.items():
            counts = [each.get(box, (0, 0)) for box in theirs]
            found[user] = (sum(new for new, _ in counts), sum(old for _, old in counts))
        return found

    def visible_mailboxes(self, key_name: str) -> list[str]:
        return [box.id for box in self._mailboxes.values() if box.visible_to(key_name)]

    async def messages(
        self, *, key_name: str, mailbox: str | None, unread: bool | None, limit: int = MAX_LIST
    ) -> tuple[VoicemailRecord, ...]:
        boxes = self.visible_mailboxes(key_name)
        if mailbox is not None:
            boxes = [box for box in boxes if box == mailbox]
        if not boxes:
            return ()
        return await self._repository.list(
            mailboxes=boxes, unread=unread, limit=min(limit, MAX_LIST)
        )

    async def get(self, voicemail_id: int, *, key_name: str | None) -> VoicemailRecord:
        """The message, if ``key_name`` may see it (None: the caller holds its link)."""
        found = await self._repository.get(voicemail_id)
        if found is None or not self._may_see(found, key_name):
            raise VoicemailNotFound(str(voicemail_id))
        return found

    async def by_link(self, voicemail_id: int, token: str) -> VoicemailRecord:
        """The message whose mailed link carries ``token``."""
        found = await self._repository.get(voicemail_id)
        if found is None or not secrets.compare_digest(found.token, token):
            raise VoicemailNotFound(str(voicemail_id))
        return found

    async def audio_path(self, record: VoicemailRecord) -> Path | None:
        """The message's WAV file on this node (``None``: its audio is not reachable)."""
        return await self._audio.path_of(record)

    async def mark_read(self, voicemail_id: int, *, key_name: str) -> VoicemailRecord:
        await self.get(voicemail_id, key_name=key_name)
        updated = await self._repository.mark_read(voicemail_id, at=self._clock.now())
        if updated is None:
            raise VoicemailNotFound(str(voicemail_id))
        self._changed_id(updated.mailbox)
        return updated

    async def delete(self, voicemail_id: int, *, key_name: str) -> None:
        await self.get(voicemail_id, key_name=key_name)
        deleted = await self._repository.delete(voicemail_id)
        if deleted is None:
            raise VoicemailNotFound(str(voicemail_id))
        await self._audio.forget(deleted)
        self._changed_id(deleted.mailbox)

    def _may_see(self, record: VoicemailRecord, key_name: str | None) -> bool:
        box = self._mailboxes.get(record.mailbox)
        if box is None:  # a mailbox since taken out of the configuration: hidden
            return False
        return key_name is None or box.visible_to(key_name)

    def _changed_id(self, mailbox: str) -> None:
        box = self._mailboxes.get(mailbox)
        if box is not None:
            self._changed(box)

"""Voicemail messages and the durable queue of the mails owed for them.

A message and its mail are written in one transaction, so a stored message always gets
its mail (and a mail always has its message).  The queue is read in id order: the mailer
sends the oldest unsent mail, and marks it sent, before it looks at the next one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.orm import Session

from callbridge.store.database import Database
from callbridge.store.models import VoicemailMailRow, VoicemailRow

MAX_ERROR_CHARS = 500


@dataclass(frozen=True, kw_only=True)
class VoicemailRecord:
    id: int
    mailbox: str
    caller: str
    number: str
    created_at: datetime
    duration: float
    path: str
    token: str
    read_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class NewVoicemail:
    mailbox: str
    caller: str
    number: str
    created_at: datetime
    duration: float
    path: str
    token: str
    recipients: tuple[str, ...]  # none: no mail is queued
    as_attachment: bool


@dataclass(frozen=True, kw_only=True)
class OwedMail:
    """The oldest mail not yet sent, with its message."""

    id: int
    recipients: tuple[str, ...]
    as_attachment: bool
    attempts: int
    voicemail: VoicemailRecord


def _record(row: VoicemailRow) -> VoicemailRecord:
    return VoicemailRecord(
        id=row.id,
        mailbox=row.mailbox,
        caller=row.caller,
        number=row.number,
        created_at=row.created_at,
        duration=row.duration,
        path=row.path,
        token=row.token,
        read_at=row.read_at,
    )


def _one(connection: Connection, voicemail_id: int) -> VoicemailRecord | None:
    with Session(bind=connection) as session:
        row = session.get(VoicemailRow, voicemail_id)
        return None if row is None else _record(row)


class VoicemailRepository:
    def __init__(self, *, database: Database) -> None:
        self._db = database

    async def add(self, new: NewVoicemail) -> VoicemailRecord:
        def work(connection: Connection) -> VoicemailRecord:
            voicemail_id = connection.execute(
                insert(VoicemailRow)
                .values(
                    mailbox=new.mailbox,
                    caller=new.caller,
                    number=new.number,
                    created_at=new.created_at,
                    duration=new.duration,
                    path=new.path,
                    token=new.token,
                    read_at=None,
                )
                .returning(VoicemailRow.id)
            ).scalar_one()
            if new.recipients:
                connection.execute(
                    insert(VoicemailMailRow).values(
                        voicemail_id=voicemail_id,
                        recipients=",".join(new.recipients),
                        as_attachment=new.as_attachment,
                        created_at=new.created_at,
                        attempts=0,
                    )
                )
            found = _one(connection, voicemail_id)
            assert found is not None
            return found

        return await self._db.run(work)

    async def get(self, voicemail_id: int) -> VoicemailRecord | None:
        return await self._db.run(lambda connection: _one(connection, voicemail_id))

    async def list(
        self, *, mailboxes: Sequence[str], unread: bool | None, limit: int
    ) -> tuple[VoicemailRecord, ...]:
        """Newest first, of these mailboxes; ``unread`` True/False filters, None: all."""
        query = select(VoicemailRow).where(VoicemailRow.mailbox.in_(list(mailboxes)))
        if unread is True:
            query = query.where(VoicemailRow.read_at.is_(None))
        elif unread is False:
            query = query.where(VoicemailRow.read_at.is_not(None))
        query = query.order_by(VoicemailRow.id.desc()).limit(limit)

        def work(connection: Connection) -> tuple[VoicemailRecord, ...]:
            with Session(bind=connection) as session:
                return tuple(_record(row) for row in session.scalars(query))

        return await self._db.run(work)

    async def mark_read(self, voicemail_id: int, *, at: datetime) -> VoicemailRecord | None:
        """Marks an unread message read (a read one keeps its first read time)."""

        def work(connection: Connection) -> VoicemailRecord | None:
            connection.execute(
                update(VoicemailRow)
                .where(VoicemailRow.id == voicemail_id, VoicemailRow.read_at.is_(None))
                .values(read_at=at)
            )
            return _one(connection, voicemail_id)

        return await self._db.run(work)

    async def delete(self, voicemail_id: int) -> VoicemailRecord | None:
        """Deletes the message and any mail still owed for it; returns what it was."""

        def work(connection: Connection) -> VoicemailRecord | None:
            found = _one(connection, voicemail_id)
            if found is not None:
                connection.execute(
                    delete(VoicemailMailRow).where(VoicemailMailRow.voicemail_id == voicemail_id)
                )
                connection.execute(delete(VoicemailRow).where(VoicemailRow.id == voicemail_id))
            return found

        return await self._db.run(work)

    async def counts(self, mailboxes: Sequence[str]) -> tuple[int, int]:
        """(unread, read) messages of these mailboxes."""
        query = (
            select(VoicemailRow.read_at.is_(None), func.count())
            .where(VoicemailRow.mailbox.in_(list(mailboxes)))
            .group_by(VoicemailRow.read_at.is_(None))
        )

        def work(connection: Connection) -> tuple[int, int]:
            new = old = 0
            for unread, count in connection.execute(query):
                if unread:
                    new += count
                else:
                    old += count
            return new, old

        if not mailboxes:
            return 0, 0
        return await self._db.run(work)

    async def next_mail(self) -> OwedMail | None:
        query = (
            select(VoicemailMailRow, VoicemailRow)
            .join(VoicemailRow, VoicemailRow.id == VoicemailMailRow.voicemail_id)
            .where(VoicemailMailRow.sent_at.is_(None), VoicemailMailRow.given_up_at.is_(None))
            .order_by(VoicemailMailRow.id)
            .limit(1)
        )

        def work(connection: Connection) -> OwedMail | None:
            with Session(bind=connection) as session:
                found = session.execute(query).first()
                if found is None:
                    return None
                mail, voicemail = found
                return OwedMail(
                    id=mail.id,
                    recipients=tuple(r for r in mail.recipients.split(",") if r),
                    as_attachment=mail.as_attachment,
                    attempts=mail.attempts,
                    voicemail=_record(voicemail),
                )

        return await self._db.run(work)

    async def mail_sent(self, mail_id: int, *, at: datetime) -> None:
        await self._db.run(
            lambda connection: connection.execute(
                update(VoicemailMailRow)
                .where(VoicemailMailRow.id == mail_id)
                .values(sent_at=at, attempts=VoicemailMailRow.attempts + 1, last_error=None)
            )
        )

    async def mail_failed(self, mail_id: int, *, error: str) -> None:
        await self._db.run(
            lambda connection: connection.execute(
                update(VoicemailMailRow)
                .where(VoicemailMailRow.id == mail_id)
                .values(attempts=VoicemailMailRow.attempts + 1, last_error=error[:MAX_ERROR_CHARS])
            )
        )

    async def mail_given_up(self, mail_id: int, *, at: datetime, error: str) -> None:
        await self._db.run(
            lambda connection: connection.execute(
                update(VoicemailMailRow)
                .where(VoicemailMailRow.id == mail_id)
                .values(
                    given_up_at=at,
                    attempts=VoicemailMailRow.attempts + 1,
                    last_error=error[:MAX_ERROR_CHARS],
                )
            )
        )

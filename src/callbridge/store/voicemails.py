"""Voicemail messages and the durable queue of the mails owed for them.

A message and its mail are written in one transaction, so a stored message always gets
its mail (and a mail always has its message).  The queue is read in id order per mailbox:
a mail can be claimed only when no earlier mail of its mailbox is still owed, so a
mailbox's mails go out in the order its messages were left.

Several nodes may share one database: a mailer *claims* a mail before it sends it (a
lease: ``claimed_by``, ``lease_until``; a compare-and-set update), and records the outcome
only while it holds the lease: a node dead mid-send loses the mail when its lease runs out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from callbridge.store.database import Database
from callbridge.store.models import VoicemailAudioRow, VoicemailMailRow, VoicemailRow

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

    async def add(self, new: NewVoicemail, *, wav: bytes | None = None) -> VoicemailRecord:
        """Stores the message, its mail, and its audio (``wav``: the file's bytes)."""

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
            if wav is not None:
                connection.execute(
                    insert(VoicemailAudioRow).values(voicemail_id=voicemail_id, wav=wav)
                )
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
        """Deletes the message, its audio and any mail owed for it; returns what it was."""

        def work(connection: Connection) -> VoicemailRecord | None:
            found = _one(connection, voicemail_id)
            if found is not None:
                connection.execute(
                    delete(VoicemailAudioRow).where(VoicemailAudioRow.voicemail_id == voicemail_id)
                )
                connection.execute(
                    delete(VoicemailMailRow).where(VoicemailMailRow.voicemail_id == voicemail_id)
                )
                connection.execute(delete(VoicemailRow).where(VoicemailRow.id == voicemail_id))
            return found

        return await self._db.run(work)

    async def counts(self, mailboxes: Sequence[str]) -> tuple[int, int]:
        """(unread, read) messages of these mailboxes."""
        each = await self.counts_by_mailbox(mailboxes)
        return sum(new for new, _ in each.values()), sum(old for _, old in each.values())

    async def counts_by_mailbox(self, mailboxes: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(unread, read) messages of each of these mailboxes (an empty one is absent)."""
        unread = VoicemailRow.read_at.is_(None)
        query = (
            select(VoicemailRow.mailbox, unread, func.count())
            .where(VoicemailRow.mailbox.in_(list(mailboxes)))
            .group_by(VoicemailRow.mailbox, unread)
        )

        def work(connection: Connection) -> dict[str, tuple[int, int]]:
            found: dict[str, list[int]] = {}
            for mailbox, is_unread, count in connection.execute(query):
                found.setdefault(mailbox, [0, 0])[0 if is_unread else 1] += count
            return {mailbox: (new, old) for mailbox, (new, old) in found.items()}

        return await self._db.run(work) if mailboxes else {}

    async def next_mail(self) -> OwedMail | None:
        """The oldest mail still owed (claimed or not)."""
        query = select(VoicemailMailRow.id).where(_owed()).order_by(VoicemailMailRow.id).limit(1)

        def work(connection: Connection) -> OwedMail | None:
            mail_id = connection.scalar(query)
            return None if mail_id is None else _owed_mail(connection, mail_id)

        return await self._db.run(work)

    async def claim_mail(
        self, *, node: str, now: datetime, lease_until: datetime
    ) -> OwedMail | None:
        """Leases to ``node`` the oldest mail it may send now, and returns it (``None``:
        nothing to send).  A mail may be sent when it is owed, the head of its mailbox's
        queue, and not leased to another node (or that lease ran out)."""
        candidate = aliased(VoicemailMailRow)
        head = (
            select(candidate.id)
            .where(_owed(candidate), _free(candidate, node=node, now=now), _is_head(candidate))
            .order_by(candidate.id)
            .limit(1)
            .scalar_subquery()
        )
        claim = (
            update(VoicemailMailRow)
            .where(
                VoicemailMailRow.id == head,
                _owed(),
                _free(VoicemailMailRow, node=node, now=now),
            )
            .values(claimed_by=node, lease_until=lease_until)
            .returning(VoicemailMailRow.id)
        )

        def work(connection: Connection) -> OwedMail | None:
            mail_id = connection.execute(claim).scalar()
            return None if mail_id is None else _owed_mail(connection, mail_id)

        # Another node may claim the same head at once: its update wins, ours finds none
        # left to update, and the next head (if any) is tried.
        for _ in range(CLAIM_TRIES):
            found = await self._db.run(work)
            if found is not None:
                return found
            if await self._db.run(lambda connection: connection.scalar(select(head))) is None:
                return None
        return None

    async def next_free_at(self, *, node: str, now: datetime) -> datetime | None:
        """When a mail now leased to another node, at the head of its mailbox's queue,
        may be taken over (the earliest such lease's end; ``None``: no such mail)."""
        query = select(func.min(VoicemailMailRow.lease_until)).where(
            _owed(),
            _is_head(VoicemailMailRow),
            VoicemailMailRow.lease_until > now,
            or_(VoicemailMailRow.claimed_by.is_(None), VoicemailMailRow.claimed_by != node),
        )

        def work(connection: Connection) -> datetime | None:
            value: datetime | None = connection.scalar(query)
            return value

        return await self._db.run(work)

    async def renew_mail(self, mail_id: int, *, node: str, lease_until: datetime) -> bool:
        """Extends ``node``'s lease on the mail; False: it no longer holds it."""
        return await self._settle(mail_id, node=node, values={"lease_until": lease_until})

    async def mail_sent(self, mail_id: int, *, node: str, at: datetime) -> bool:
        """Records the mail sent; False: ``node`` no longer holds it (nothing recorded)."""
        return await self._settle(
            mail_id,
            node=node,
            values={
                "sent_at": at,
                "attempts": VoicemailMailRow.attempts + 1,
                "last_error": None,
                "claimed_by": None,
                "lease_until": None,
            },
        )

    async def mail_failed(
        self, mail_id: int, *, node: str, error: str, lease_until: datetime, keep: bool = True
    ) -> bool:
        """Counts a failed attempt; ``node`` keeps the mail (it tries again) until
        ``lease_until``, when another node may take it over.  ``keep=False`` hands it
        back: no node may take it before ``lease_until``, then any node may."""
        values: dict[str, Any] = {
            "attempts": VoicemailMailRow.attempts + 1,
            "last_error": error[:MAX_ERROR_CHARS],
            "lease_until": lease_until,
        }
        if not keep:
            values["claimed_by"] = None
        return await self._settle(mail_id, node=node, values=values)

    async def mail_given_up(self, mail_id: int, *, node: str, at: datetime, error: str) -> bool:
        return await self._settle(
            mail_id,
            node=node,
            values={
                "given_up_at": at,
                "attempts": VoicemailMailRow.attempts + 1,
                "last_error": error[:MAX_ERROR_CHARS],
                "claimed_by": None,
                "lease_until": None,
            },
        )

    async def release_mails(self, *, node: str) -> int:
        """Drops every lease ``node`` holds (it restarted under the same name)."""
        query = (
            update(VoicemailMailRow)
            .where(VoicemailMailRow.claimed_by == node, _owed())
            .values(claimed_by=None, lease_until=None)
        )

        def work(connection: Connection) -> int:
            result = connection.execute(query)
            return result.rowcount if isinstance(result, CursorResult) else 0

        return await self._db.run(work)

    async def _settle(self, mail_id: int, *, node: str, values: dict[str, Any]) -> bool:
        query = (
            update(VoicemailMailRow)
            .where(VoicemailMailRow.id == mail_id, VoicemailMailRow.claimed_by == node, _owed())
            .values(**values)
        )

        def work(connection: Connection) -> bool:
            result = connection.execute(query)
            return isinstance(result, CursorResult) and result.rowcount == 1

        return await self._db.run(work)


CLAIM_TRIES = 3


def _owed(mail: type[VoicemailMailRow] = VoicemailMailRow) -> ColumnElement[bool]:
    return and_(mail.sent_at.is_(None), mail.given_up_at.is_(None))


def _free(mail: type[VoicemailMailRow], *, node: str, now: datetime) -> ColumnElement[bool]:
    """Not leased, its lease ran out, or leased to ``node`` itself."""
    return or_(mail.lease_until.is_(None), mail.lease_until <= now, mail.claimed_by == node)


def _is_head(mail: type[VoicemailMailRow]) -> ColumnElement[bool]:
    """No earlier mail of the same mailbox is still owed."""
    its = aliased(VoicemailRow)
    earlier = aliased(VoicemailMailRow)
    earlier_message = aliased(VoicemailRow)
    mailbox = (
        select(its.mailbox)
        .where(its.id == mail.voicemail_id)
        .correlate_except(its)
        .scalar_subquery()
    )
    return ~(
        exists()
        .where(
            earlier.voicemail_id == earlier_message.id,
            earlier_message.mailbox == mailbox,
            earlier.id < mail.id,
            _owed(earlier),
        )
        .correlate_except(earlier, earlier_message)
    )


def _owed_mail(connection: Connection, mail_id: int) -> OwedMail | None:
    with Session(bind=connection) as session:
        mail = session.get(VoicemailMailRow, mail_id)
        if mail is None:
            return None
        voicemail = session.get(VoicemailRow, mail.voicemail_id)
        if voicemail is None:
            return None
        return OwedMail(
            id=mail.id,
            recipients=tuple(r for r in mail.recipients.split(",") if r),
            as_attachment=mail.as_attachment,
            attempts=mail.attempts,
            voicemail=_record(voicemail),
        )

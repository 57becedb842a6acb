"""Uploaded announcements (the media library): one row of metadata per announcement, and
its audio (8 kHz mono 16-bit PCM) in a row of its own, written in the same transaction —
the database is what every node shares, so any node plays an upload any node took."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callbridge.store.database import Database
from callbridge.store.errors import StoreError
from callbridge.store.models import AnnouncementAudioRow, AnnouncementRow


class DuplicateAnnouncement(StoreError):
    """An announcement with this id is stored already."""


@dataclass(frozen=True, kw_only=True)
class AnnouncementRecord:
    id: str
    kind: str  # "file" or "text"
    text: str | None
    voice: str | None
    filename: str | None
    duration: float
    api_key_id: str | None
    created_at: datetime


def _record(row: AnnouncementRow) -> AnnouncementRecord:
    return AnnouncementRecord(
        id=row.id,
        kind=row.kind,
        text=row.text,
        voice=row.voice,
        filename=row.filename,
        duration=row.duration,
        api_key_id=row.api_key_id,
        created_at=row.created_at,
    )


class AnnouncementRepository:
    def __init__(self, *, database: Database) -> None:
        self._db = database

    async def add(self, record: AnnouncementRecord, pcm: bytes) -> None:
        """Stores the announcement with its audio; raises :class:`DuplicateAnnouncement`
        when the id is taken."""
        values = {
            "id": record.id,
            "kind": record.kind,
            "text": record.text,
            "voice": record.voice,
            "filename": record.filename,
            "duration": record.duration,
            "api_key_id": record.api_key_id,
            "created_at": record.created_at,
        }

        def work(connection: Connection) -> None:
            connection.execute(insert(AnnouncementRow).values(**values))
            connection.execute(
                insert(AnnouncementAudioRow).values(announcement_id=record.id, pcm=pcm)
            )

        try:
            await self._db.run(work)
        except IntegrityError as exc:
            raise DuplicateAnnouncement(record.id) from exc

    async def list(self) -> list[AnnouncementRecord]:
        def work(connection: Connection) -> list[AnnouncementRecord]:
            with Session(bind=connection) as session:
                rows = session.scalars(select(AnnouncementRow).order_by(AnnouncementRow.id))
                return [_record(row) for row in rows]

        return await self._db.run(work)

    async def get(self, announcement_id: str) -> AnnouncementRecord | None:
        def work(connection: Connection) -> AnnouncementRecord | None:
            with Session(bind=connection) as session:
                row = session.get(AnnouncementRow, announcement_id)
                return None if row is None else _record(row)

        return await self._db.run(work)

    async def audio(self, announcement_id: str) -> bytes | None:
        """Its PCM (``None``: no such announcement, or one stored before its audio was)."""
        query = select(AnnouncementAudioRow.pcm).where(
            AnnouncementAudioRow.announcement_id == announcement_id
        )

        def work(connection: Connection) -> bytes | None:
            pcm: bytes | None = connection.scalar(query)
            return pcm

        return await self._db.run(work)

    async def missing_audio(self) -> tuple[str, ...]:
        """Ids of announcements whose audio is not stored (uploaded before it was)."""
        query = (
            select(AnnouncementRow.id)
            .outerjoin(
                AnnouncementAudioRow, AnnouncementAudioRow.announcement_id == AnnouncementRow.id
            )
            .where(AnnouncementAudioRow.announcement_id.is_(None))
            .order_by(AnnouncementRow.id)
        )
        return await self._db.run(lambda connection: tuple(connection.scalars(query)))

    async def put_audio(self, announcement_id: str, pcm: bytes) -> bool:
        """Stores the audio of an announcement that has none (False: gone, or it has)."""

        def work(connection: Connection) -> bool:
            if (
                connection.scalar(
                    select(AnnouncementRow.id).where(AnnouncementRow.id == announcement_id)
                )
                is None
            ):
                return False
            connection.execute(
                insert(AnnouncementAudioRow).values(announcement_id=announcement_id, pcm=pcm)
            )
            return True

        try:
            return await self._db.run(work)
        except IntegrityError:  # another node stored it meanwhile
            return False

    async def delete(self, announcement_id: str) -> bool:
        def work(connection: Connection) -> bool:
            connection.execute(
                delete(AnnouncementAudioRow).where(
                    AnnouncementAudioRow.announcement_id == announcement_id
                )
            )
            result = connection.execute(
                delete(AnnouncementRow).where(AnnouncementRow.id == announcement_id)
            )
            return bool(result.rowcount)

        return await self._db.run(work)

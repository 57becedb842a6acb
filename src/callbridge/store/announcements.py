"""Uploaded announcements' metadata (the media library): one row per announcement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callbridge.store.database import Database
from callbridge.store.errors import StoreError
from callbridge.store.models import AnnouncementRow


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

    async def add(self, record: AnnouncementRecord) -> None:
        """Raises :class:`DuplicateAnnouncement` when the id is taken."""
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

    async def delete(self, announcement_id: str) -> bool:
        def work(connection: Connection) -> bool:
            result = connection.execute(
                delete(AnnouncementRow).where(AnnouncementRow.id == announcement_id)
            )
            return bool(result.rowcount)

        return await self._db.run(work)

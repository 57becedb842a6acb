"""Voicemail messages' audio (the WAV file as recorded) as every node sharing the
database reads it.  A message's audio is written with the message
(:meth:`callbridge.store.voicemails.VoicemailRepository.add`) and deleted with it; messages
left before it was kept here have only the file of the node that took them, which that
node stores with :meth:`VoicemailAudioRepository.put` on its next start."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from callbridge.store.database import Database
from callbridge.store.models import VoicemailAudioRow, VoicemailRow


class VoicemailAudioRepository:
    def __init__(self, *, database: Database) -> None:
        self._db = database

    async def get(self, voicemail_id: int) -> bytes | None:
        """Its WAV file (``None``: no such message, or one left before its audio was kept)."""
        query = select(VoicemailAudioRow.wav).where(VoicemailAudioRow.voicemail_id == voicemail_id)

        def work(connection: Connection) -> bytes | None:
            wav: bytes | None = connection.scalar(query)
            return wav

        return await self._db.run(work)

    async def missing(self) -> tuple[tuple[int, str], ...]:
        """(id, path) of the messages whose audio is not stored, oldest first."""
        query = (
            select(VoicemailRow.id, VoicemailRow.path)
            .outerjoin(VoicemailAudioRow, VoicemailAudioRow.voicemail_id == VoicemailRow.id)
            .where(VoicemailAudioRow.voicemail_id.is_(None))
            .order_by(VoicemailRow.id)
        )
        return await self._db.run(
            lambda connection: tuple((row[0], row[1]) for row in connection.execute(query))
        )

    async def paths(self, mailbox: str) -> tuple[str, ...]:
        """The paths its messages were recorded to (their names are what nodes cache)."""
        query = select(VoicemailRow.path).where(VoicemailRow.mailbox == mailbox)
        return await self._db.run(lambda connection: tuple(connection.scalars(query)))

    async def put(self, voicemail_id: int, wav: bytes) -> bool:
        """Stores the audio of a message that has none (False: gone, or it has some)."""

        def work(connection: Connection) -> bool:
            found = connection.scalar(
                select(VoicemailRow.id).where(VoicemailRow.id == voicemail_id)
            )
            if found is None:
                return False
            connection.execute(insert(VoicemailAudioRow).values(voicemail_id=voicemail_id, wav=wav))
            return True

        try:
            return await self._db.run(work)
        except IntegrityError:  # another node stored it meanwhile
            return False

"""Uploaded announcements shared by the nodes of one database (SQLite both ways,
PostgreSQL): two media libraries with folders of their own.  An upload on A is listed,
described and played on B (its audio cached in B's folder on first use); a delete on A
stops B (B's cache file goes too); an id deleted and uploaded again plays the new audio
on B; an upload from before the audio was stored gets it stored from its node's file."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import numpy as np
import pytest
import soundfile
from sqlalchemy import delete

from audio_analysis import dominant_frequency
from callbridge.calls.announcements.errors import AnnouncementExists, UnknownAnnouncement
from callbridge.calls.announcements.library import AnnouncementLibrary
from callbridge.calls.announcements.uploads import MediaLibrary
from callbridge.media.tts import Tts
from callbridge.store.announcements import AnnouncementRepository
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.models import AnnouncementAudioRow
from postgres_server import fresh_database


def tone(frequency: float, *, seconds: float = 1.0) -> bytes:
    t = np.arange(int(seconds * 8000)) / 8000
    out = io.BytesIO()
    soundfile.write(out, 0.4 * np.sin(2 * np.pi * frequency * t), 8000, format="WAV")
    return out.getvalue()


def node(database: Database, directory: Path, tmp_path: Path) -> MediaLibrary:
    tts = Tts(cache_dir=tmp_path / "tts")
    return MediaLibrary(
        library=AnnouncementLibrary(configured=[], tts=tts),
        stored=AnnouncementRepository(database=database),
        directory=directory,
        tts=tts,
        clock=SystemClock(),
    )


@pytest.fixture(
    params=[
        "sqlite-on-loop",
        "async-engine",
        pytest.param("postgresql", marks=pytest.mark.postgresql),
    ]
)
async def databases(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Database, Database]]:
    """Node A's and node B's connections to one database."""
    async with AsyncExitStack() as stack:
        url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
        if request.param == "postgresql":
            url = await stack.enter_async_context(
                fresh_database(request.getfixturevalue("postgres"))
            )
        on_loop = request.param == "sqlite-on-loop"
        a = Database(url=url, sqlite_on_loop=on_loop)
        stack.push_async_callback(a.close)
        await a.migrate()
        b = Database(url=url, sqlite_on_loop=on_loop)
        stack.push_async_callback(b.close)
        yield a, b


async def played(media: MediaLibrary, announcement_id: str) -> float:
    """The dominant frequency of its audio (the library's PCM, as a call plays it)."""
    samples, _ = soundfile.read(io.BytesIO(await media.wav(announcement_id)), dtype="int16")
    return dominant_frequency(samples[400:-400])


async def test_an_upload_on_one_node_plays_on_another_until_deleted(
    databases: tuple[Database, Database], tmp_path: Path
) -> None:
    a = node(databases[0], tmp_path / "a", tmp_path)
    b = node(databases[1], tmp_path / "b", tmp_path)
    await a.load()
    await b.load()
    await a.upload_audio(announcement_id="hold", data=tone(600.0), filename="h.wav", api_key_id="k")

    assert [info.id for info in await b.list()] == ["hold"]
    assert (await b.get("hold")).filename == "h.wav"
    assert not (tmp_path / "b" / "hold.wav").exists()
    assert abs(await played(b, "hold") - 600.0) < 10
    assert (tmp_path / "b" / "hold.wav").is_file()  # cached on first use
    assert len(await b.wav("hold")) > 16000
    with pytest.raises(AnnouncementExists):  # the id is taken on every node
        await b.upload_text(announcement_id="hold", text="x", voice=None, api_key_id="k")

    await a.delete("hold")
    with pytest.raises(UnknownAnnouncement):
        await b.wav("hold")
    assert not (tmp_path / "b" / "hold.wav").exists()
    assert await b.list() == []
    with pytest.raises(UnknownAnnouncement):
        await b.delete("hold")

    # The same id uploaded again (on B this time) with other audio: A plays the new one.
    await b.upload_audio(announcement_id="hold", data=tone(900.0), filename=None, api_key_id="k")
    assert abs(await played(a, "hold") - 900.0) < 10
    await a.upload_audio(announcement_id="x", data=tone(400.0), filename=None, api_key_id="k")
    assert abs(await played(b, "x") - 400.0) < 10
    await b.delete("x")
    assert abs(await played(b, "hold") - 900.0) < 10  # the cache still serves the rest
    with pytest.raises(UnknownAnnouncement):
        await played(a, "x")


async def test_an_upload_from_before_its_audio_was_stored_gets_it_from_its_node(
    databases: tuple[Database, Database], tmp_path: Path
) -> None:
    a = node(databases[0], tmp_path / "a", tmp_path)
    await a.upload_audio(announcement_id="old", data=tone(500.0), filename=None, api_key_id="k")
    await databases[0].run(lambda connection: connection.execute(delete(AnnouncementAudioRow)))
    b = node(databases[1], tmp_path / "b", tmp_path)
    await b.load()  # B has no file of it: it cannot help
    with pytest.raises(UnknownAnnouncement):
        await b.wav("old")
    restarted = node(databases[0], tmp_path / "a", tmp_path)
    await restarted.load()  # A has: it stores the audio
    assert abs(await played(b, "old") - 500.0) < 10

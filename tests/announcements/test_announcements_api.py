"""The media library API: uploads (any audio, or text) stored as 8 kHz WAV, listed with the
configured announcements in one id space, their audio served, deleted; hostile uploads
get a clear 4xx and leave nothing on disk or in the library."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile

from audio_analysis import dominant_frequency
from callbridge.api.app import create_http_app
from callbridge.calls.announcements.library import AnnouncementLibrary, ConfiguredAnnouncement
from callbridge.calls.announcements.uploads import MediaLibrary
from callbridge.media.tts import Tts
from callbridge.store.announcements import AnnouncementRepository
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.repository import ApiKeyRepository

KEY = "announcements-test-key-0123456789"
NO_SCOPE_KEY = "announcements-noscope-0123456789"
PATH = "/api/v2/announcements"


class NoLegs:
    legs: tuple[object, ...] = ()

    def refusal(self) -> None:
        return None


class NoCalls:
    pass


@dataclass
class World:
    client: httpx.AsyncClient
    library: AnnouncementLibrary
    media: MediaLibrary
    directory: Path
    database: Database


def tone(frequency: float, *, seconds: float = 1.0, rate: int = 44100, fmt: str = "WAV") -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    out = io.BytesIO()
    soundfile.write(out, 0.4 * np.sin(2 * np.pi * frequency * t), rate, format=fmt)
    return out.getvalue()


def new_media(
    library: AnnouncementLibrary, database: Database, directory: Path, tts: Tts
) -> MediaLibrary:
    return MediaLibrary(
        library=library,
        stored=AnnouncementRepository(database=database),
        directory=directory,
        tts=tts,
        clock=SystemClock(),
    )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    database = Database(url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    await database.migrate()
    keys = ApiKeyRepository(database=database, clock=SystemClock())
    await keys.ensure(key=KEY, name="main")
    await keys.ensure(key=NO_SCOPE_KEY, name="noscope", scopes=())
    tts = Tts(cache_dir=tmp_path / "tts")
    library = AnnouncementLibrary(
        configured=[ConfiguredAnnouncement(id="7684", text="Please hold the line.")], tts=tts
    )
    await library.prepare()
    directory = tmp_path / "announcements"
    media = new_media(library, database, directory, tts)
    await media.load()
    app = create_http_app(
        engine=NoLegs(),
        calls=NoCalls(),  # type: ignore[arg-type]
        api_keys=keys,
        announcements=media,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://callbridge.test", headers={"apikey": KEY}
    ) as client:
        yield World(client, library, media, directory, database)
    await database.close()


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


async def test_upload_an_mp3_list_fetch_and_delete(world: World) -> None:
    client = world.client
    sent = await client.post(
        PATH, files={"file": ("hold.mp3", tone(600.0, fmt="MP3"))}, data={"id": "1001"}
    )
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["id"] == "1001"
    assert body["origin"] == "uploaded"
    assert body["kind"] == "file"
    assert body["filename"] == "hold.mp3"
    assert abs(body["duration"] - 1.0) < 0.1
    assert sent.headers["location"] == f"{PATH}/1001"
    assert files_in(world.directory) == ["1001.wav"]
    with wave.open(str(world.directory / "1001.wav")) as stored:
        assert (stored.getframerate(), stored.getnchannels(), stored.getsampwidth()) == (8000, 1, 2)
    assert world.library.exists("1001")

    listed = (await client.get(PATH)).json()["announcements"]
    assert [(a["id"], a["origin"]) for a in listed] == [
        ("1001", "uploaded"),
        ("7684", "configured"),
    ]
    configured = (await client.get(f"{PATH}/7684")).json()
    assert configured["kind"] == "text"
    assert configured["voice"] == "en-us"
    assert configured["duration"] > 0.5

    audio = await client.get(f"{PATH}/1001.wav")
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/wav"
    data, rate = soundfile.read(io.BytesIO(audio.content), dtype="int16")
    assert rate == 8000
    assert abs(dominant_frequency(data[800:-800]) - 600.0) < 10
    assert (await client.get(f"{PATH}/7684.wav")).status_code == 200

    gone = await client.delete(f"{PATH}/1001")
    assert gone.status_code == 204
    assert files_in(world.directory) == []
    assert not world.library.exists("1001")
    assert (await client.get(f"{PATH}/1001")).status_code == 404
    assert (await client.delete(f"{PATH}/1001")).status_code == 404


async def test_text_upload_is_spoken_and_an_id_is_chosen_when_none_is_given(world: World) -> None:
    sent = await world.client.post(PATH, json={"text": "Willkommen", "voice": "de"})
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["kind"] == "text"
    assert body["voice"] == "de"
    assert body["text"] == "Willkommen"
    assert world.library.exists(body["id"])
    form = await world.client.post(PATH, data={"text": "Hello", "id": "hello"})
    assert form.status_code == 201, form.text
    assert (await world.library.source("hello")).read_frame() is not None


async def test_uploads_survive_a_restart(world: World, tmp_path: Path) -> None:
    sent = await world.client.post(
        PATH, files={"file": ("a.wav", tone(500.0))}, data={"id": "kept"}
    )
    assert sent.status_code == 201
    library = AnnouncementLibrary(configured=[], tts=Tts(cache_dir=tmp_path / "tts"))
    media = new_media(library, world.database, world.directory, Tts(cache_dir=tmp_path / "tts"))
    await media.load()
    assert library.exists("kept")
    assert [a.id for a in (await media.list())] == ["kept"]


async def test_ids_are_shared_with_the_configured_ones(world: World) -> None:
    clash = await world.client.post(
        PATH, files={"file": ("a.wav", tone(500.0))}, data={"id": "7684"}
    )
    assert clash.status_code == 409
    assert clash.json()["error"]["id"] == "announcement_exists"
    first = await world.client.post(PATH, data={"text": "one", "id": "x"})
    assert first.status_code == 201
    again = await world.client.post(PATH, files={"file": ("a.wav", tone(500.0))}, data={"id": "x"})
    assert again.status_code == 409
    configured = await world.client.delete(f"{PATH}/7684")
    assert configured.status_code == 409
    assert configured.json()["error"]["id"] == "announcement_configured"
    assert "configuration" in configured.json()["error"]["message"]
    assert files_in(world.directory) == ["x.wav"]


@pytest.mark.parametrize(
    ("request_kwargs", "status", "error_id"),
    [
        (
            {"files": {"file": ("x.wav", b"RIFF\x00\x00\x00\x00WAVEjunkjunk")}},
            400,
            "invalid_announcement",
        ),
        ({"files": {"file": ("x.mp3", b"\x00" * 5000)}}, 400, "invalid_announcement"),
        ({"files": {"file": ("evil.sh", b"#!/bin/sh\nrm -rf /\n")}}, 400, "invalid_announcement"),
        (
            {"files": {"file": ("a.wav", tone(440.0))}, "data": {"id": "../../etc/passwd"}},
            400,
            "invalid_announcement",
        ),
        (
            {"files": {"file": ("a.wav", tone(440.0))}, "data": {"id": "a.wav"}},
            400,
            "invalid_announcement",
        ),
        (
            {"files": {"file": ("a.wav", tone(440.0))}, "data": {"id": "x" * 65}},
            400,
            "invalid_announcement",
        ),
        ({"data": {"text": "x" * 4001}}, 400, "invalid_announcement"),
        ({"data": {"text": "hello", "voice": "klingon"}}, 400, "invalid_announcement"),
        ({"data": {"text": "hello", "voice": "--help"}}, 400, "invalid_announcement"),
        ({"data": {"voice": "de"}}, 400, "invalid_announcement"),
        (
            {"content": b"<xml/>", "headers": {"content-type": "application/xml"}},
            415,
            "unsupported_media_type",
        ),
        (
            {
                "content": b"--b\r\nbroken",
                "headers": {"content-type": "multipart/form-data; boundary=b"},
            },
            400,
            None,
        ),
    ],
)
async def test_hostile_uploads_are_refused_and_leave_nothing(
    world: World, request_kwargs: dict[str, object], status: int, error_id: str | None
) -> None:
    reply = await world.client.post(PATH, **request_kwargs)  # type: ignore[arg-type]
    assert reply.status_code == status, reply.text
    if error_id is not None:
        assert reply.json()["error"]["id"] == error_id
    assert "Traceback" not in reply.text
    assert files_in(world.directory) == []
    assert (await world.media.list())[0].id == "7684"
    assert len(await world.media.list()) == 1


async def test_too_long_audio_and_too_large_bodies_are_refused(world: World) -> None:
    long = tone(300.0, seconds=601.0, rate=8000)
    reply = await world.client.post(PATH, files={"file": ("long.wav", long)})
    assert reply.status_code == 400
    assert "600" in reply.json()["error"]["message"]
    huge = await world.client.post(PATH, files={"file": ("huge.wav", b"\x00" * (21 * 1024 * 1024))})
    assert huge.status_code == 413
    assert files_in(world.directory) == []


async def test_every_route_needs_a_key_with_the_call_scope(world: World) -> None:
    for method, path in (
        ("GET", PATH),
        ("GET", f"{PATH}/7684"),
        ("GET", f"{PATH}/7684.wav"),
        ("DELETE", f"{PATH}/7684"),
        ("POST", PATH),
    ):
        missing = await world.client.request(method, path, headers={"apikey": ""})
        assert missing.status_code == 401, (method, path)
        unscoped = await world.client.request(method, path, headers={"apikey": NO_SCOPE_KEY})
        assert unscoped.status_code == 403, (method, path)


async def test_a_path_traversal_id_is_just_not_found(world: World) -> None:
    for path in (f"{PATH}/..%2F..%2Fetc%2Fpasswd.wav", f"{PATH}/%2E%2E.wav", f"{PATH}/a.b"):
        reply = await world.client.get(path)
        assert reply.status_code == 404, path

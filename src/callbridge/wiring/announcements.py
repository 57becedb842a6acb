"""Building the media library from the configuration: the announcement library (its
configured announcements rendered at start) and the music on hold."""

from __future__ import annotations

from pathlib import Path

from callbridge.calls.announcements.errors import AnnouncementUnplayable
from callbridge.calls.announcements.library import (
    AnnouncementLibrary,
    ConfiguredAnnouncement,
    SpeechSynthesizer,
)
from callbridge.calls.announcements.uploads import MediaLibrary
from callbridge.calls.hold_music import HoldMusic, HoldMusicError
from callbridge.config import CallbridgeConfig
from callbridge.config_media_library import audio_files_in
from callbridge.store.announcements import AnnouncementRepository
from callbridge.store.clock import Clock
from callbridge.store.database import Database
from callbridge.wiring.startup import StartupError


def configured_announcements(config: CallbridgeConfig) -> tuple[ConfiguredAnnouncement, ...]:
    return tuple(
        ConfiguredAnnouncement(
            id=each.id,
            text=each.text,
            voice=each.voice,
            file=None if each.file is None else Path(each.file),
        )
        for each in config.announcements
    )


async def announcement_library(
    config: CallbridgeConfig, tts: SpeechSynthesizer
) -> AnnouncementLibrary:
    """The library with every configured announcement rendered; raises
    :class:`StartupError` naming one that cannot be."""
    library = AnnouncementLibrary(configured=configured_announcements(config), tts=tts)
    try:
        await library.prepare()
    except AnnouncementUnplayable as exc:
        raise StartupError(str(exc)) from exc
    return library


async def media_library(
    config: CallbridgeConfig,
    *,
    library: AnnouncementLibrary,
    tts: SpeechSynthesizer,
    database: Database,
    clock: Clock,
) -> MediaLibrary:
    """The media library API's side, with the stored uploads made playable."""
    media = MediaLibrary(
        library=library,
        stored=AnnouncementRepository(database=database),
        directory=Path(config.media.announcements_dir),
        tts=tts,
        clock=clock,
    )
    await media.load()
    return media


def hold_music(config: CallbridgeConfig) -> HoldMusic:
    """[media] music_on_hold decoded, or the built-in piece; raises :class:`StartupError`."""
    setting = config.media.music_on_hold
    if setting is None:
        return HoldMusic.built_in()
    path = Path(setting)
    files = audio_files_in(path) if path.is_dir() else [path]
    try:
        return HoldMusic.from_files(files, name=setting)
    except HoldMusicError as exc:
        raise StartupError(str(exc)) from exc

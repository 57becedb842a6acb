"""The configuration of the media library: ``[[announcements]]`` (prompts by id, spoken
with espeak-ng or read from an audio file) and ``[media] music_on_hold`` (a file or a
folder).  Every key is documented in README.md ("Configuration")."""

from __future__ import annotations

import re
from pathlib import Path

import soundfile
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callbridge.calls.announcements.ids import ID_RULE, is_announcement_id

MAX_ANNOUNCEMENT_TEXT = 4000
VOICE = re.compile(r"[A-Za-z0-9_+-]{1,64}")


def check_announcement_id(value: str) -> str:
    if not is_announcement_id(value):
        raise ValueError(ID_RULE)
    return value


def check_voice(value: str) -> str:
    if not VOICE.fullmatch(value):
        raise ValueError("a voice is an espeak-ng voice name, e.g. en-us or de+f3")
    return value


def is_audio_file(path: Path) -> bool:
    """Whether libsndfile reads ``path``'s header (what the Play verb plays)."""
    try:
        soundfile.info(str(path))
    except (soundfile.SoundFileError, RuntimeError, OSError):
        return False
    return True


def audio_files_in(folder: Path) -> list[Path]:
    """The audio files of ``folder`` (not its subfolders, not hidden files), by name."""
    candidates = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return [p for p in candidates if is_audio_file(p)]


def check_music_on_hold(value: str | None) -> str | None:
    """An audio file, or a folder holding at least one."""
    if value is None:
        return None
    path = Path(value)
    if path.is_dir():
        if not audio_files_in(path):
            raise ValueError(f"music_on_hold folder {value!r} holds no audio file")
    elif not path.is_file():
        raise ValueError(f"music_on_hold {value!r} is neither a file nor a folder")
    elif not is_audio_file(path):
        raise ValueError(f"music_on_hold {value!r} is not an audio file")
    return value


class AnnouncementSection(BaseModel):
    """An announcement (seed-004's ids): ``text`` spoken with espeak-ng in ``voice`` (the
    Say verb's default when unset), or an audio ``file`` of any format the Play verb reads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    text: str | None = Field(default=None, min_length=1, max_length=MAX_ANNOUNCEMENT_TEXT)
    voice: str | None = None
    file: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return check_announcement_id(value)

    @field_validator("voice")
    @classmethod
    def _voice(cls, value: str | None) -> str | None:
        return None if value is None else check_voice(value)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("text must not be blank")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> AnnouncementSection:
        name = f"announcement {self.id!r}"
        if (self.text is None) == (self.file is None):
            raise ValueError(f"{name} needs exactly one of text or file")
        if self.voice is not None and self.text is None:
            raise ValueError(f"{name}: voice goes with text, not with file")
        if self.file is not None:
            path = Path(self.file)
            if not path.is_file():
                raise ValueError(f"{name}: file {self.file!r} does not exist")
            if not is_audio_file(path):
                raise ValueError(f"{name}: file {self.file!r} is not an audio file")
        return self


def check_unique_announcements(announcements: tuple[AnnouncementSection, ...]) -> None:
    seen: set[str] = set()
    for each in announcements:
        if each.id in seen:
            raise ValueError(f"announcement id {each.id!r} is configured twice")
        seen.add(each.id)

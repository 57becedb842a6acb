"""[[announcements]] and [media] music_on_hold: validated with clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from callbridge.config import ConfigError, load_config
from callbridge.media.tts import Tts
from callbridge.wiring.announcements import announcement_library, hold_music
from callbridge.wiring.startup import StartupError


def tone_file(path: Path, *, seconds: float = 0.5, rate: int = 16000) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    soundfile.write(path, 0.3 * np.sin(2 * np.pi * 440 * t), rate)
    return path


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "callbridge.toml"
    path.write_text(text)
    return load_config(path)


def test_text_and_file_announcements_load(tmp_path: Path) -> None:
    wav = tone_file(tmp_path / "welcome.wav")
    config = load(
        tmp_path,
        f"""
[[announcements]]
id = "7684"
text = "Thank you for calling. Please hold the line."
[[announcements]]
id = "1001"
text = "Hallo"
voice = "de"
[[announcements]]
id = "welcome"
file = "{wav}"
[media]
music_on_hold = "{wav}"
""",
    )
    assert [a.id for a in config.announcements] == ["7684", "1001", "welcome"]
    assert config.announcements[1].voice == "de"
    assert config.announcements[2].file == str(wav)
    assert config.media.music_on_hold == str(wav)
    assert config.media.announcements_dir == "var/announcements"


def test_defaults_are_no_announcements_and_the_built_in_music(tmp_path: Path) -> None:
    config = load(tmp_path, "")
    assert config.announcements == ()
    assert config.media.music_on_hold is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('id = "a"', "needs exactly one of text or file"),
        ('id = "a"\ntext = "hi"\nfile = "WAV"', "needs exactly one of text or file"),
        ('id = "a"\nfile = "WAV"\nvoice = "en"', "voice goes with text"),
        ('id = "a"\nfile = "/nonexistent/x.wav"', "does not exist"),
        ('id = "a"\nfile = "NOTAUDIO"', "is not an audio file"),
        ('id = "../etc"\ntext = "hi"', "1 to 64 letters, digits"),
        ('id = "a.wav"\ntext = "hi"', "1 to 64 letters, digits"),
        ('id = ""\ntext = "hi"', "1 to 64 letters, digits"),
        ('id = "a"\ntext = "   "', "text must not be blank"),
        ('id = "a"\ntext = "hi"\nvoice = "en; rm -rf /"', "espeak-ng voice name"),
        (f'id = "a"\ntext = "{"x" * 4001}"', "at most 4000 characters"),
        ('id = "a"\ntext = "hi"\nsound = "x"', "Extra inputs are not permitted"),
    ],
)
def test_bad_announcements_are_refused(tmp_path: Path, entry: str, message: str) -> None:
    wav = tone_file(tmp_path / "ok.wav")
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not audio at all")
    entry = entry.replace("NOTAUDIO", str(not_audio)).replace("WAV", str(wav))
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, f"[[announcements]]\n{entry}\n")


def test_ids_are_unique(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'4' is configured twice"):
        load(
            tmp_path,
            '[[announcements]]\nid = "4"\ntext = "a"\n[[announcements]]\nid = "4"\ntext = "b"\n',
        )


def test_music_on_hold_is_a_file_or_a_folder_of_audio(tmp_path: Path) -> None:
    folder = tmp_path / "moh"
    folder.mkdir()
    with pytest.raises(ConfigError, match="holds no audio file"):
        load(tmp_path, f'[media]\nmusic_on_hold = "{folder}"\n')
    (folder / "README.txt").write_text("not music")
    with pytest.raises(ConfigError, match="holds no audio file"):
        load(tmp_path, f'[media]\nmusic_on_hold = "{folder}"\n')
    tone_file(folder / "b.wav")
    assert load(tmp_path, f'[media]\nmusic_on_hold = "{folder}"\n').media.music_on_hold
    with pytest.raises(ConfigError, match="neither a file nor a folder"):
        load(tmp_path, f'[media]\nmusic_on_hold = "{tmp_path / "missing"}"\n')
    with pytest.raises(ConfigError, match="is not an audio file"):
        load(tmp_path, f'[media]\nmusic_on_hold = "{folder / "README.txt"}"\n')


async def test_a_bad_configured_voice_stops_the_start_with_one_line(tmp_path: Path) -> None:
    config = load(tmp_path, '[[announcements]]\nid = "4"\ntext = "hi"\nvoice = "klingon"\n')
    with pytest.raises(StartupError, match="announcement '4': espeak-ng has no voice"):
        await announcement_library(config, Tts(cache_dir=tmp_path / "tts"))
    folder = tmp_path / "moh"
    folder.mkdir()
    tone_file(folder / "b.wav", seconds=0.5)
    tone_file(folder / "a.wav", seconds=0.25)
    (folder / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    config = load(tmp_path, f'[media]\nmusic_on_hold = "{folder}"\n')
    assert hold_music(config).seconds == pytest.approx(0.75, abs=0.01)
    assert hold_music(load(tmp_path, "")).name == "the built-in piece"

"""Text-to-speech with espeak-ng, cached as 8 kHz mono 16-bit WAV prompts.

espeak-ng runs as a subprocess without a shell; the text is passed as one argument after
``--`` so it can never be read as an option.  Its 22.05 kHz output is converted with
:func:`callbridge.media.audiofile.decode_for_telephony` and stored as ``<sha256(voice, text)>.wav``
(written to a temporary name and renamed into place, so concurrent requests are safe).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from callbridge.codecs.formats import SAMPLE_RATE
from callbridge.media.audiofile import BadAudio, decode_for_telephony
from callbridge.media.wavfile import write_wav


class TtsError(Exception):
    """espeak-ng is missing or failed."""


class UnknownVoice(TtsError):
    """The requested voice is not among ``espeak-ng --voices``."""


@dataclass(frozen=True)
class Voice:
    """One espeak-ng voice; ``id`` is what :meth:`Tts.synthesize` accepts."""

    id: str
    name: str
    language: str


def parse_voices(listing: str) -> list[Voice]:
    """Parse ``espeak-ng --voices``: Pty Language Age/Gender VoiceName File Other..."""
    voices: list[Voice] = []
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 4 and fields[0].isdigit():
            voices.append(Voice(id=fields[1], name=fields[3], language=fields[1]))
    return voices


def cache_key(text: str, voice: str) -> str:
    """sha256 over voice and text (length-prefixed so the split is unambiguous)."""
    material = f"{len(voice)}:{voice}\n{text}".encode()
    return hashlib.sha256(material).hexdigest()


class Tts:
    """espeak-ng front end with an on-disk cache."""

    def __init__(self, *, cache_dir: Path, espeak_binary: str = "espeak-ng") -> None:
        self._cache_dir = Path(cache_dir)
        self._binary = espeak_binary
        self._voices: list[Voice] | None = None

    async def voices(self) -> list[Voice]:
        """The installed voices (listed once, then remembered)."""
        if self._voices is None:
            listing = await self._run("--voices")
            self._voices = parse_voices(listing.decode(errors="replace"))
        return list(self._voices)

    async def synthesize(self, text: str, voice: str) -> Path:
        """Path of an 8 kHz mono WAV speaking ``text``; raises :class:`UnknownVoice`."""
        await self._check_voice(voice)
        target = self._cache_dir / f"{cache_key(text, voice)}.wav"
        if target.exists():
            return target
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self._cache_dir) as scratch:
            raw = Path(scratch) / "espeak.wav"
            await self._run("-v", voice, "-w", str(raw), "--", text)
            await asyncio.to_thread(_convert, raw, target)
        return target

    async def _check_voice(self, voice: str) -> None:
        base = voice.split("+", 1)[0]
        known = {v.id for v in await self.voices()} | {v.name for v in await self.voices()}
        if base not in known:
            raise UnknownVoice(voice)

    async def _run(self, *args: str) -> bytes:
        try:
            process = await asyncio.create_subprocess_exec(
                self._binary,
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise TtsError(f"cannot run {self._binary}: {exc}") from exc
        try:
            out, err = await process.communicate()
        except asyncio.CancelledError:
            if process.returncode is None:
                process.kill()
            await process.wait()
            raise
        if process.returncode != 0:
            raise TtsError(
                f"{self._binary} exited {process.returncode}: {err.decode(errors='replace')}"
            )
        return out


def _convert(raw: Path, target: Path) -> None:
    try:
        pcm = decode_for_telephony(raw)
    except BadAudio as exc:
        raise TtsError(f"espeak-ng wrote an unreadable WAV: {exc}") from exc
    partial = target.with_suffix(f".{os.getpid()}.{id(pcm)}.part")
    write_wav(partial, pcm, rate=SAMPLE_RATE)
    partial.replace(target)

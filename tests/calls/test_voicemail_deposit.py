"""The deposit with a scripted leg: what ends a message (hang-up, ``#``, silence,
max_seconds), that a message under a second is not kept, and who is told."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from callbridge.calls.recordings import wav_duration
from callbridge.calls.voicemail import Mailbox, UnknownMailbox, Voicemail
from callbridge.calls.voicemail.audio import MessageAudio
from callbridge.calls.voicemail.recording import RecordingEnd, record_message
from callbridge.calls.voicemail.silence import SilenceMeter
from callbridge.engine.events import Ended, EndReason, LegState, Party
from callbridge.media.plane import AudioSource
from callbridge.media.sources import SilenceSource
from callbridge.store.database import Database
from callbridge.store.voicemail_audio import VoicemailAudioRepository
from callbridge.store.voicemails import VoicemailRepository

FRAME = 320


class StepClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def tone(seconds: float, hz: float = 700.0) -> bytes:
    t = np.arange(int(seconds * 8000)) / 8000
    return (0.3 * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * 8000) * 2)


class ScriptedLeg:
    """Answers; 'receives' ``audio`` in real time into the recording; presses ``key`` at
    ``key_at`` s or hangs up at ``hangup_at`` s into the recording."""

    def __init__(
        self,
        audio: bytes,
        *,
        key_at: float | None = None,
        hangup_at: float | None = None,
    ) -> None:
        self.state = LegState.RINGING
        self.audio, self.key_at, self.hangup_at = audio, key_at, hangup_at
        self.played: list[str] = []
        self._ended: Ended | None = None
        self._digits: asyncio.Queue[str] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._file: wave.Wave_write | None = None

    @property
    def ended(self) -> Ended | None:
        return self._ended

    async def answer(self) -> None:
        self.state = LegState.ANSWERED

    async def play(self, source: AudioSource) -> bool:
        self.played.append(type(source).__name__)
        return self._ended is None

    async def say(self, text: str, voice: str | None = None) -> bool:
        self.played.append("say")
        return self._ended is None

    def flush_digits(self) -> None:
        while not self._digits.empty():
            self._digits.get_nowait()

    async def collect_digits(
        self, *, max_digits: int, timeout: float, finish_on_key: str = "#"
    ) -> str:
        try:
            return await asyncio.wait_for(self._digits.get(), timeout)
        except TimeoutError:
            return ""

    def record(self, path: Path) -> None:
        out = wave.open(str(path), "wb")  # noqa: SIM115 - closed by stop_recording
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        self._file = out
        self._writer = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        assert self._file is not None
        elapsed = 0.0
        for offset in range(0, len(self.audio), FRAME * 5):
            self._file.writeframes(self.audio[offset : offset + FRAME * 5])
            self._file._file.flush()  # type: ignore[attr-defined]
            await asyncio.sleep(0.1)
            elapsed += 0.1
            if self.key_at is not None and elapsed >= self.key_at:
                self._digits.put_nowait("#")
                self.key_at = None
            if self.hangup_at is not None and elapsed >= self.hangup_at:
                self._ended = Ended(EndReason.HUNG_UP, Party.REMOTE, None, "")
                self._digits.put_nowait("")
                return
        await asyncio.sleep(3600)

    def stop_recording(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
        if self._file is not None:
            self._file.close()
            self._file = None


def test_the_silence_meter_counts_the_silence_that_ends_the_audio() -> None:
    meter = SilenceMeter()
    meter.feed(tone(1.0) + silence(0.5)[:-7])
    meter.feed(silence(0.5)[-7:] + silence(1.0))
    assert meter.sound_ends_at == pytest.approx(1.0, abs=0.03)
    assert meter.silent_seconds == pytest.approx(1.5, abs=0.03)


@pytest.mark.parametrize(
    ("leg", "end", "seconds"),
    [
        (ScriptedLeg(tone(10), key_at=1.0), RecordingEnd.KEY, 1.0),
        (ScriptedLeg(tone(10), hangup_at=1.0), RecordingEnd.HANGUP, 1.0),
        (ScriptedLeg(tone(1.2) + silence(10)), RecordingEnd.SILENCE, 1.7),
        (ScriptedLeg(tone(10)), RecordingEnd.MAX_LENGTH, 1.5),
    ],
)
async def test_what_ends_a_message(
    tmp_path: Path, leg: ScriptedLeg, end: RecordingEnd, seconds: float
) -> None:
    await leg.answer()
    max_seconds = 1.5 if end is RecordingEnd.MAX_LENGTH else 30.0
    recorded = await record_message(
        leg, path=tmp_path / "m.wav", max_seconds=max_seconds, silence_seconds=0.8, poll=0.05
    )
    assert recorded.end is end
    assert recorded.duration == pytest.approx(seconds, abs=0.25)
    assert wav_duration(recorded.path) == recorded.duration


class Lights:
    def __init__(self) -> None:
        self.changed: list[Sequence[str]] = []

    def mailbox_changed(self, users: Sequence[str]) -> None:
        self.changed.append(tuple(users))


@pytest.fixture
async def database(tmp_path: Path) -> Database:
    database = Database(url=f"sqlite+aiosqlite:///{tmp_path / 'vm.db'}")
    await database.migrate()
    return database


async def test_a_short_message_is_not_kept_a_longer_one_is_stored_mailed_and_lit(
    tmp_path: Path, database: Database
) -> None:
    lights, queued = Lights(), []
    voicemail = Voicemail(
        mailboxes=[Mailbox(id="sales", emails=("s@x.org",), users=("1001",))],
        repository=VoicemailRepository(database=database),
        clock=StepClock(),
        audio=MessageAudio(
            stored=VoicemailAudioRepository(database=database), directory=tmp_path / "vm"
        ),
        notifier=lights,
        mail_queued=lambda: queued.append(1),
    )
    try:
        short = ScriptedLeg(tone(10), hangup_at=0.5)
        kept = await voicemail.deposit(
            short, mailbox="sales", announcement="4", as_attachment=False, caller="c", number="n"
        )
        assert kept is False
        assert short.played == ["say", "ToneSource"]  # no announcement library: the sentence
        assert not list((tmp_path / "vm" / "sales").glob("*.wav"))
        assert (queued, lights.changed) == ([], [])
        long = ScriptedLeg(tone(10), hangup_at=1.5)
        kept = await voicemail.deposit(
            long, mailbox="sales", announcement=None, as_attachment=True, caller="c", number="n"
        )
        assert kept is True
        assert long.state is LegState.ANSWERED
        assert (queued, lights.changed) == ([1], [("1001",)])
        assert await voicemail.counts("1001") == (1, 0)
        assert await voicemail.counts("1002") == (0, 0)
        (stored,) = await voicemail.messages(key_name="any", mailbox=None, unread=True)
        await voicemail.mark_read(stored.id, key_name="any")
        assert await voicemail.counts("1001") == (0, 1)
        assert lights.changed[-1] == ("1001",)
        with pytest.raises(UnknownMailbox):
            await voicemail.deposit(
                long, mailbox="nope", announcement=None, as_attachment=False, caller="", number=""
            )
    finally:
        await database.close()


class Library:
    """An announcement library that knows only announcement "4"."""

    async def source(self, announcement_id: str) -> AudioSource:
        if announcement_id != "4":
            raise LookupError(announcement_id)  # as the library's UnknownAnnouncement
        return SilenceSource(duration_s=0.1)


async def test_the_greeting_is_the_announcement_asked_for_else_the_mailboxes(
    tmp_path: Path, database: Database
) -> None:
    voicemail = Voicemail(
        mailboxes=[Mailbox(id="sales", announcement="4"), Mailbox(id="other", announcement="9")],
        repository=VoicemailRepository(database=database),
        clock=StepClock(),
        audio=MessageAudio(
            stored=VoicemailAudioRepository(database=database), directory=tmp_path / "vm"
        ),
        announcements=Library(),
    )
    try:
        heard = []
        for mailbox, announcement in (("sales", None), ("other", "4"), ("other", None)):
            leg = ScriptedLeg(tone(10), hangup_at=0.2)
            await voicemail.deposit(
                leg,
                mailbox=mailbox,
                announcement=announcement,
                as_attachment=False,
                caller="c",
                number="n",
            )
            heard.append(leg.played[0])
        assert heard == ["SilenceSource", "SilenceSource", "say"]  # "9" is unknown
    finally:
        await database.close()

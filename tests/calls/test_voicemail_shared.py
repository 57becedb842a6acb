"""Voicemail across nodes sharing one database: a message's audio is stored with it, so
another node serves it (cached on first use), a message kept before that is stored by the
node holding its file, and lights follow counts changed on any node."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from test_voicemail_deposit import ScriptedLeg, StepClock, tone

from callbridge.calls.voicemail import Mailbox, Voicemail, VoicemailNotFound
from callbridge.calls.voicemail.audio import MessageAudio
from callbridge.calls.voicemail.lights import SharedLights
from callbridge.store.database import Database
from callbridge.store.voicemail_audio import VoicemailAudioRepository
from callbridge.store.voicemails import NewVoicemail, VoicemailRepository

BOXES = (Mailbox(id="sales", users=("1001", "1002")), Mailbox(id="support", users=("1002",)))


@pytest.fixture
async def database(tmp_path: Path) -> Database:
    database = Database(url=f"sqlite+aiosqlite:///{tmp_path / 'vm.db'}")
    await database.migrate()
    return database


def node(database: Database, directory: Path) -> Voicemail:
    return Voicemail(
        mailboxes=BOXES,
        repository=VoicemailRepository(database=database),
        clock=StepClock(),
        audio=audio(database, directory),
    )


def audio(database: Database, directory: Path) -> MessageAudio:
    return MessageAudio(stored=VoicemailAudioRepository(database=database), directory=directory)


async def test_a_message_left_on_one_node_is_heard_on_another_until_deleted(
    tmp_path: Path, database: Database
) -> None:
    a, b = node(database, tmp_path / "a"), node(database, tmp_path / "b")
    try:
        leg = ScriptedLeg(tone(10), hangup_at=1.5)
        assert await a.deposit(
            leg, mailbox="sales", announcement=None, as_attachment=False, caller="c", number="n"
        )
        (record,) = await b.messages(key_name="any", mailbox=None, unread=None)
        recorded = tmp_path / "a" / "sales" / Path(record.path).name
        assert record.path == str(recorded)
        on_a = await a.audio_path(record)
        assert on_a == recorded
        on_b = await b.audio_path(record)
        assert on_b == tmp_path / "b" / "sales" / recorded.name
        assert on_b.read_bytes() == recorded.read_bytes()
        assert await b.audio_path(record) == on_b  # the cache, this time
        (on_b.parent / f"{on_b.stem}.mp3").write_bytes(b"mp3")
        await b.delete(record.id, key_name="any")
        assert list((tmp_path / "b" / "sales").iterdir()) == []
        with pytest.raises(VoicemailNotFound):
            await a.get(record.id, key_name="any")
        assert await VoicemailAudioRepository(database=database).get(record.id) is None
    finally:
        await database.close()


async def test_each_node_prunes_its_copies_of_messages_deleted_elsewhere(
    tmp_path: Path, database: Database
) -> None:
    a, b = node(database, tmp_path / "a"), node(database, tmp_path / "b")
    try:
        for _ in range(2):
            leg = ScriptedLeg(tone(10), hangup_at=1.2)
            assert await a.deposit(
                leg, mailbox="sales", announcement=None, as_attachment=False, caller="c", number="n"
            )
        kept, deleted = await b.messages(key_name="any", mailbox=None, unread=None)
        kept_copy, deleted_copy = await b.audio_path(kept), await b.audio_path(deleted)
        assert kept_copy is not None
        assert deleted_copy is not None
        recording = tmp_path / "b" / "sales" / ("f" * 32 + ".wav")  # not stored yet
        recording.write_bytes(b"RIFF")
        await a.delete(deleted.id, key_name="any")
        on_b = audio(database, tmp_path / "b")
        assert await on_b.prune() == 0  # every file is recent
        assert await on_b.prune(keep_recent=0) == 2
        assert sorted((tmp_path / "b" / "sales").iterdir()) == [kept_copy]
        assert await audio(database, tmp_path / "a").prune(keep_recent=0) == 0
    finally:
        await database.close()


async def test_a_message_kept_before_its_audio_was_stored_is_stored_by_its_node(
    tmp_path: Path, database: Database
) -> None:
    wav = tmp_path / "a" / "sales" / ("0" * 32 + ".wav")
    wav.parent.mkdir(parents=True)
    wav.write_bytes(b"RIFF....WAVE")
    repository = VoicemailRepository(database=database)
    try:
        record = await repository.add(
            NewVoicemail(
                mailbox="sales",
                caller="c",
                number="n",
                created_at=StepClock().now(),
                duration=2.0,
                path=str(wav),
                token="t",
                recipients=(),
                as_attachment=False,
            )
        )
        gone = await repository.add(
            NewVoicemail(
                mailbox="sales",
                caller="c",
                number="n",
                created_at=StepClock().now(),
                duration=2.0,
                path=str(tmp_path / "elsewhere.wav"),
                token="t",
                recipients=(),
                as_attachment=False,
            )
        )
        on_b = audio(database, tmp_path / "b")
        assert await VoicemailAudioRepository(database=database).get(record.id) is None
        assert await audio(database, tmp_path / "a").load() == 1  # "gone" has no file
        assert await on_b.load() == 0  # stored once
        path = await on_b.path_of(record)
        assert path is not None
        assert path.read_bytes() == b"RIFF....WAVE"
        assert await on_b.path_of(gone) is None
        assert await VoicemailAudioRepository(database=database).missing() == (
            (gone.id, gone.path),
        )
    finally:
        await database.close()


class Phones:
    """The engine's message waiting as the check sees it: who is watched, what was told."""

    def __init__(self, watched: Sequence[str]) -> None:
        self.watched = tuple(watched)
        self.told: dict[str, tuple[int, int]] = {}
        self.notified: list[str] = []

    def watched_users(self) -> Sequence[str]:
        return self.watched

    def counts_now(self, user: str, new: int, old: int) -> None:
        if self.told.get(user) != (new, old):
            self.notified.append(user)
        self.told[user] = (new, old)


class CountingVoicemail:
    def __init__(self, inner: Voicemail) -> None:
        self.inner, self.asked = inner, 0

    async def counts_of(self, users: Iterable[str]) -> dict[str, tuple[int, int]]:
        self.asked += 1
        return await self.inner.counts_of(users)


async def test_the_check_hands_every_watched_users_counts_in_one_query(
    tmp_path: Path, database: Database
) -> None:
    a = node(database, tmp_path / "a")
    repository = VoicemailRepository(database=database)
    try:
        for mailbox in ("sales", "support", "support"):
            await repository.add(
                NewVoicemail(
                    mailbox=mailbox,
                    caller="c",
                    number="n",
                    created_at=StepClock().now(),
                    duration=2.0,
                    path="x.wav",
                    token="t",
                    recipients=(),
                    as_attachment=False,
                )
            )
        assert await a.counts_of(["1001", "1002", "1003"]) == {"1001": (1, 0), "1002": (3, 0)}
        phones, counts = Phones(["1001", "1002", "1003"]), CountingVoicemail(a)
        lights = SharedLights(lights=phones, counts=counts)
        await lights.check()
        assert phones.told == {"1001": (1, 0), "1002": (3, 0), "1003": (0, 0)}
        assert counts.asked == 1
        idle = SharedLights(lights=Phones([]), counts=counts)
        await idle.check()
        assert counts.asked == 1  # no subscriber here: no query
    finally:
        await database.close()

"""Voicemail messages and their mail queue (SQLite both ways, PostgreSQL), and the mailer
draining the queue: in order, once, past failures; a mail refused for good does not block
the rest."""

from __future__ import annotations

import asyncio
import wave
from email.message import EmailMessage
from pathlib import Path

import pytest
from store_fakes import StepClock

from callbridge.calls.voicemail.mail import MailSettings
from callbridge.calls.voicemail.mailer import MailRefused, VoicemailMailer
from callbridge.store.database import Database
from callbridge.store.voicemails import NewVoicemail, VoicemailRepository


def message(
    path: Path, *, mailbox: str = "sales", recipients: tuple[str, ...] = ("a@x.org",)
) -> NewVoicemail:
    return NewVoicemail(
        mailbox=mailbox,
        caller="+15550100",
        number="+15550180",
        created_at=StepClock().now(),
        duration=2.0,
        path=str(path),
        token="t0ken",
        recipients=recipients,
        as_attachment=False,
    )


def silent_wav(path: Path, seconds: float = 1.5) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(bytes(int(seconds * 8000) * 2))
    return path


async def test_messages_are_listed_counted_read_and_deleted_with_their_mail(
    database: Database, tmp_path: Path
) -> None:
    repository = VoicemailRepository(database=database)
    first = await repository.add(message(tmp_path / "1.wav"))
    second = await repository.add(message(tmp_path / "2.wav", mailbox="support"))
    await repository.add(message(tmp_path / "3.wav", recipients=()))  # no mail owed
    listed = await repository.list(mailboxes=["sales"], unread=None, limit=10)
    assert [r.path for r in listed] == [str(tmp_path / "3.wav"), str(tmp_path / "1.wav")]
    assert await repository.counts(["sales"]) == (2, 0)
    assert await repository.counts([]) == (0, 0)
    read = await repository.mark_read(first.id, at=StepClock().now())
    assert read is not None
    assert read.read_at is not None
    assert await repository.counts(["sales", "support"]) == (2, 1)
    assert [r.id for r in await repository.list(mailboxes=["sales"], unread=False, limit=9)] == [
        first.id
    ]
    owed = await repository.next_mail()
    assert owed is not None
    assert owed.voicemail.id == first.id
    deleted = await repository.delete(first.id)
    assert deleted is not None
    assert await repository.get(first.id) is None
    owed = await repository.next_mail()  # the deleted message's mail went with it
    assert owed is not None
    assert owed.voicemail.id == second.id
    assert await repository.delete(first.id) is None


class Transport:
    def __init__(self, *, fail: int = 0, refuse: frozenset[str] = frozenset()) -> None:
        self.fail, self.refuse = fail, refuse
        self.sent: list[EmailMessage] = []
        self.attempts = 0

    async def send(self, mail: EmailMessage) -> None:
        self.attempts += 1
        if self.fail > 0:
            self.fail -= 1
            raise ConnectionRefusedError("SMTP down")
        if mail["To"] in self.refuse:
            raise MailRefused("550 no such user")
        self.sent.append(mail)


async def run_mailer(mailer: VoicemailMailer, transport: Transport, count: int) -> None:
    task = asyncio.create_task(mailer.run())
    try:
        for _ in range(1000):
            if len(transport.sent) >= count:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # nothing more is sent
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("refused", [False, True])
async def test_the_mailer_sends_in_order_once_after_failures(
    database: Database, tmp_path: Path, refused: bool
) -> None:
    repository = VoicemailRepository(database=database)
    wav = silent_wav(tmp_path / "m.wav")
    bad = "nobody@x.org"
    for index, to in enumerate(("one@x.org", bad if refused else "two@x.org", "three@x.org")):
        await repository.add(message(wav.with_name(f"{index}.wav"), recipients=(to,)))
    transport = Transport(fail=3, refuse=frozenset({bad}))
    mailer = VoicemailMailer(
        repository=repository,
        transport=transport,
        settings=MailSettings(sender="Callbridge <vm@x.org>", public_url="http://h"),
        clock=StepClock(),
        retry_seconds=0.02,
    )
    await run_mailer(mailer, transport, 2 if refused else 3)
    expected = (
        ["one@x.org", "three@x.org"] if refused else ["one@x.org", "two@x.org", "three@x.org"]
    )
    assert [m["To"] for m in transport.sent] == expected
    assert transport.attempts == 3 + 3
    assert await repository.next_mail() is None
    assert len({m["Message-ID"] for m in transport.sent}) == len(expected)

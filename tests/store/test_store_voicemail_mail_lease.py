"""The voicemail mail queue shared by several nodes on one database (SQLite both ways,
PostgreSQL): two mailers each send a mail once, a mailbox's in order; a node that dies
mid-send keeps its lease until it runs out, then another node takes the mail over (one
stopped hands it back at once); an outcome is recorded only by the node still holding the lease."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from email.message import EmailMessage
from pathlib import Path

import pytest
from store_fakes import StepClock
from test_store_voicemails import message

from callbridge.calls.voicemail.mail import MailSettings
from callbridge.calls.voicemail.mailer import VoicemailMailer
from callbridge.store.database import Database
from callbridge.store.voicemails import VoicemailRepository

LEASE = 30.0


class Transport:
    """Records (node, To) of each mail sent; a node named in ``hang`` never finishes."""

    def __init__(self, node: str, sent: list[tuple[str, str]], *, hang: bool = False) -> None:
        self.node, self.sent, self.hang = node, sent, hang
        self.started: list[str] = []

    async def send(self, mail: EmailMessage) -> None:
        self.started.append(str(mail["To"]))
        if self.hang:
            await asyncio.Event().wait()
        await asyncio.sleep(0.01)
        self.sent.append((self.node, str(mail["To"])))


@pytest.fixture
async def second(database: Database, request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """Another node's connection to the same database, run the same way (two SQLite
    connections of one process, one on the loop and one off it, would wait on each other
    for the file's lock: one server per loop and SQLite file, as in production)."""
    on_loop = request.node.callspec.params["database"] == "sqlite-on-loop"
    async with AsyncExitStack() as stack:
        other = Database(url=database.url, sqlite_on_loop=on_loop)
        stack.push_async_callback(other.close)
        yield other


class Crashing(VoicemailRepository):
    """A node that dies hands nothing back."""

    async def release_mails(self, *, node: str) -> int:
        return 0


def mailer(
    database: Database, transport: Transport, clock: StepClock, *, crashes: bool = False
) -> VoicemailMailer:
    return VoicemailMailer(
        repository=(Crashing if crashes else VoicemailRepository)(database=database),
        transport=transport,
        settings=MailSettings(sender="Callbridge <vm@x.org>", public_url="http://h"),
        clock=clock,
        retry_seconds=0.02,
        node=transport.node,
        lease_seconds=LEASE,
        poll_seconds=0.02,
    )


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polls what other tasks change
            await asyncio.sleep(0.01)


async def queue(database: Database, tmp_path: Path, mails: list[tuple[str, str]]) -> None:
    repository = VoicemailRepository(database=database)
    for index, (mailbox, to) in enumerate(mails):
        await repository.add(message(tmp_path / f"{index}.wav", mailbox=mailbox, recipients=(to,)))


async def test_two_mailers_send_each_mail_once_a_mailbox_in_order(
    database: Database, second: Database, tmp_path: Path
) -> None:
    mails = [(box, f"{box}{n}@x.org") for n in range(4) for box in ("sales", "support")]
    await queue(database, tmp_path, mails)
    sent: list[tuple[str, str]] = []
    runs = [
        asyncio.create_task(mailer(db, Transport(node, sent), StepClock()).run())
        for db, node in ((database, "a"), (second, "b"))
    ]
    try:
        await until(lambda: len(sent) == len(mails))
        await asyncio.sleep(0.2)  # nothing more is sent
    finally:
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
    addresses = [to for _, to in sent]
    assert sorted(addresses) == sorted(to for _, to in mails)  # each once
    for box in ("sales", "support"):
        assert [to for to in addresses if to.startswith(box)] == [
            f"{box}{n}@x.org" for n in range(4)
        ]
    assert await VoicemailRepository(database=database).next_mail() is None


async def test_a_node_dead_mid_send_loses_the_mail_once_its_lease_ran_out(
    database: Database, second: Database, tmp_path: Path
) -> None:
    await queue(
        database,
        tmp_path,
        [("sales", "first@x.org"), ("support", "other@x.org"), ("sales", "second@x.org")],
    )
    sent: list[tuple[str, str]] = []
    dying = Transport("a", sent, hang=True)
    a = asyncio.create_task(mailer(database, dying, StepClock(), crashes=True).run())
    await until(lambda: dying.started == ["first@x.org"])
    a.cancel()  # node a dies mid-send: its lease on the first mail stays
    await asyncio.gather(a, return_exceptions=True)

    clock = StepClock()
    b = asyncio.create_task(mailer(second, Transport("b", sent), clock).run())
    try:
        # b sends the other mailbox's mail; sales waits for a's lease.
        await until(lambda: sent == [("b", "other@x.org")])
        await asyncio.sleep(0.2)
        assert sent == [("b", "other@x.org")]
        clock.advance(LEASE + 1)  # a's lease runs out
        await until(lambda: len(sent) == 3)
    finally:
        b.cancel()
        await asyncio.gather(b, return_exceptions=True)
    assert sent == [("b", "other@x.org"), ("b", "first@x.org"), ("b", "second@x.org")]


async def test_a_node_stopped_mid_send_hands_the_mail_back_at_once(
    database: Database, second: Database, tmp_path: Path
) -> None:
    await queue(database, tmp_path, [("sales", "first@x.org"), ("sales", "second@x.org")])
    sent: list[tuple[str, str]] = []
    stopping = Transport("a", sent, hang=True)
    a = asyncio.create_task(mailer(database, stopping, StepClock()).run())
    await until(lambda: stopping.started == ["first@x.org"])
    a.cancel()  # node a stops: it releases its lease
    await asyncio.gather(a, return_exceptions=True)
    b = asyncio.create_task(mailer(second, Transport("b", sent), StepClock()).run())
    try:
        await until(lambda: len(sent) == 2)  # no lease to wait for (the clock stands)
    finally:
        b.cancel()
        await asyncio.gather(b, return_exceptions=True)
    assert sent == [("b", "first@x.org"), ("b", "second@x.org")]


async def test_only_the_node_holding_the_lease_records_the_outcome(
    database: Database, second: Database, tmp_path: Path
) -> None:
    await queue(database, tmp_path, [("sales", "one@x.org"), ("sales", "two@x.org")])
    a, b = VoicemailRepository(database=database), VoicemailRepository(database=second)
    clock = StepClock()
    now = clock.now()
    first = await a.claim_mail(node="a", now=now, lease_until=now.replace(minute=1))
    assert first is not None
    # b may not take it, nor the next mail of the mailbox (it waits for the head).
    assert await b.claim_mail(node="b", now=clock.now(), lease_until=now.replace(minute=1)) is None
    assert await b.next_free_at(node="b", now=clock.now()) == now.replace(minute=1)
    later = now.replace(minute=2)  # a's lease ran out
    taken = await b.claim_mail(node="b", now=later, lease_until=later.replace(minute=3))
    assert taken is not None
    assert taken.id == first.id
    assert not await a.renew_mail(first.id, node="a", lease_until=later.replace(minute=5))
    assert not await a.mail_sent(first.id, node="a", at=later)
    assert await b.mail_sent(first.id, node="b", at=later)
    following = await a.claim_mail(node="a", now=later, lease_until=later.replace(minute=4))
    assert following is not None
    assert following.recipients == ("two@x.org",)
    assert await a.release_mails(node="a") == 1
    assert (await b.claim_mail(node="b", now=later, lease_until=later)) is not None


async def test_a_mail_handed_back_waits_then_goes_to_any_node(
    database: Database, second: Database, tmp_path: Path
) -> None:
    """A node without the recording hands the mail back (its recording is elsewhere)."""
    await queue(database, tmp_path, [("sales", "one@x.org")])
    a, b = VoicemailRepository(database=database), VoicemailRepository(database=second)
    now = StepClock().now()
    claimed = await a.claim_mail(node="a", now=now, lease_until=now.replace(minute=5))
    assert claimed is not None
    pause = now.replace(minute=1)
    assert await a.mail_failed(
        claimed.id, node="a", error="not here", lease_until=pause, keep=False
    )
    assert await a.claim_mail(node="a", now=now, lease_until=pause) is None
    assert await b.claim_mail(node="b", now=now, lease_until=pause) is None
    taken = await b.claim_mail(node="b", now=pause, lease_until=pause.replace(minute=6))
    assert taken is not None
    assert taken.attempts == 1

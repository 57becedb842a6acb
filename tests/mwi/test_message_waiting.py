"""Message-summary subscriptions against the engine, from a raw UDP subscriber: the life
of a subscription, every refusal, failed NOTIFYs, expiry, caps and floods; after each,
nothing is left behind (subscription, task, dialog, server transaction)."""

from __future__ import annotations

import asyncio

from mwi_setup import MWI_HOST, MWI_PORT, Mailboxes
from mwi_subscriber import Subscriber

from callbridge.engine.engine import Engine
from callbridge.sip.message_summary import CONTENT_TYPE, parse_message_summary

SERVER = (MWI_HOST, MWI_PORT)


def subscriber(user: str = "1001", host: str = "127.0.30.1") -> Subscriber:
    return Subscriber(host, SERVER, user=user, password=f"secret{user}")


def state(notify: object) -> str:
    return notify.get_header("subscription-state") or ""  # type: ignore[attr-defined]


def summary(notify: object) -> tuple[bool, int, int]:
    parsed = parse_message_summary(notify.body)  # type: ignore[attr-defined]
    return parsed.waiting, parsed.new, parsed.old


async def settled(engine: Engine, timeout: float = 3.0) -> None:
    """Wait until no subscription, NOTIFY sender or unanswered request is left."""
    mwi = engine.message_waiting
    async with asyncio.timeout(timeout):
        while True:
            if not (mwi.held or mwi.tasks or engine.pending_requests):
                return
            await asyncio.sleep(0.02)


async def test_subscribe_notify_change_refresh_unsubscribe(
    mwi_engine: Engine, mailboxes: Mailboxes
) -> None:
    mwi = mwi_engine.message_waiting
    async with subscriber() as phone:
        ok = await phone.subscribe(expires=600)
        assert ok.status_code == 200
        assert ok.get_header("expires") == "600"
        assert ok.get_header("contact")
        assert phone.to_tag
        first = await phone.notify()
        assert first.get_header("event") == "message-summary"
        assert state(first).startswith("active;expires=")
        assert 595 <= int(state(first).rpartition("=")[2]) <= 600
        assert first.get_header("content-type") == CONTENT_TYPE
        assert summary(first) == (False, 0, 0)
        assert f"Message-Account: sip:1001@{MWI_HOST}" in first.body.decode()

        mailboxes.of["1001"] = (2, 1)
        mwi.mailbox_changed(["1001"])
        assert summary(await phone.notify()) == (True, 2, 1)
        mailboxes.of["1001"] = (0, 3)
        mwi.mailbox_changed(["1002", "1001"])
        assert summary(await phone.notify()) == (False, 0, 3)

        refreshed = await phone.subscribe(expires=300, in_dialog=True)
        assert refreshed.status_code == 200
        assert refreshed.get_header("expires") == "300"
        assert 295 <= int(state(await phone.notify()).rpartition("=")[2]) <= 300

        gone = await phone.subscribe(expires=0, in_dialog=True)
        assert gone.status_code == 200
        last = await phone.notify()
        assert state(last) == "terminated;reason=timeout"
        assert summary(last) == (False, 0, 3)
        await settled(mwi_engine)
        mwi.mailbox_changed(["1001"])
        await phone.no_notify()
        late = await phone.subscribe(expires=600, in_dialog=True)
        assert late.status_code == 481


async def test_notify_answered_481_ends_the_subscription(
    mwi_engine: Engine, mailboxes: Mailboxes
) -> None:
    mwi = mwi_engine.message_waiting
    async with subscriber() as phone:
        phone.answer_notifies = 481
        assert (await phone.subscribe()).status_code == 200
        await phone.notify()
        await settled(mwi_engine)
        assert mwi.active == 0
        mailboxes.of["1001"] = (1, 0)
        mwi.mailbox_changed(["1001"])
        await phone.no_notify()
        assert (await phone.subscribe(in_dialog=True)).status_code == 481


async def test_unanswered_notify_ends_the_subscription(mwi_engine: Engine) -> None:
    async with subscriber() as phone:
        phone.answer_notifies = None  # Timer F (6.4 s with the tests' T1) ends it
        assert (await phone.subscribe()).status_code == 200
        await phone.notify()
        await settled(mwi_engine, timeout=10)
        assert mwi_engine.message_waiting.active == 0


async def test_expiry_sends_terminated(mwi_engine: Engine) -> None:
    async with subscriber() as phone:
        ok = await phone.subscribe(expires=1)
        assert ok.get_header("expires") == "1"
        assert state(await phone.notify()) in ("active;expires=1", "active;expires=0")
        assert state(await phone.notify(timeout=3)) == "terminated;reason=timeout"
        await settled(mwi_engine)


async def test_fetch_is_one_terminated_notify(mwi_engine: Engine, mailboxes: Mailboxes) -> None:
    mailboxes.of["1001"] = (4, 0)
    async with subscriber() as phone:
        ok = await phone.subscribe(expires=0)
        assert ok.status_code == 200
        assert ok.get_header("expires") == "0"
        notify = await phone.notify()
        assert state(notify) == "terminated;reason=timeout"
        assert summary(notify) == (True, 4, 0)
        await settled(mwi_engine)


async def test_expires_bounds(mwi_engine: Engine) -> None:
    async with subscriber() as phone:
        long = await phone.subscribe(expires=100_000)
        assert long.status_code == 200
        assert long.get_header("expires") == "900"
    async with subscriber() as phone:
        default = await phone.subscribe(expires=None)
        assert default.get_header("expires") == "900"  # RFC 3842's 3600, cut to the max


async def test_refusals(mwi_engine: Engine) -> None:
    async with subscriber() as phone:
        other = await phone.subscribe(uri_user="1002")
        assert other.status_code == 403  # authenticated as 1001: not its mailbox
        nobody = await phone.subscribe(uri_user="")
        assert nobody.status_code == 404
        bad_event = await phone.subscribe(event="presence")
        assert bad_event.status_code == 489
        assert bad_event.get_header("allow-events") == "message-summary"
        assert (await phone.subscribe(event=None)).status_code == 400
        assert (await phone.subscribe(event="message-summary;id=")).status_code == 400
        assert (await phone.subscribe(event='mess"age')).status_code == 400
        assert (await phone.subscribe(expires="soon")).status_code == 400
        assert (await phone.subscribe(expires="-5")).status_code == 400
        too_brief = await phone.subscribe(expires=0.5)  # type: ignore[arg-type]
        assert too_brief.status_code == 400
        accept = await phone.subscribe(headers={"Accept": "text/plain"})
        assert accept.status_code == 406
    wrong = Subscriber("127.0.30.2", SERVER, user="1001", password="wrong")
    async with wrong:
        assert (await wrong.subscribe()).status_code == 401
    stranger = Subscriber("127.0.30.3", SERVER, user="9999", password="x")
    async with stranger:
        assert (await stranger.subscribe()).status_code == 401
    await settled(mwi_engine)
    assert mwi_engine.message_waiting.held == 0


async def test_too_brief_gets_423(mwi_engine: Engine) -> None:
    mwi_engine.message_waiting.limits = type(mwi_engine.message_waiting.limits)(
        min_expires=60, max_expires=900, max_subscriptions=6, max_per_user=3
    )
    async with subscriber() as phone:
        brief = await phone.subscribe(expires=30)
        assert brief.status_code == 423
        assert brief.get_header("min-expires") == "60"
    assert mwi_engine.message_waiting.held == 0


async def test_not_offered_without_counts(mwi_engine: Engine) -> None:
    mwi_engine.message_waiting._counts = None  # as a server without the voicemail store
    async with subscriber() as phone:
        refused = await phone.subscribe()
        assert refused.status_code == 405
        assert "SUBSCRIBE" not in (refused.get_header("allow") or "")


async def test_counts_failing_sends_no_body(mwi_engine: Engine, mailboxes: Mailboxes) -> None:
    mailboxes.failing = True
    async with subscriber() as phone:
        assert (await phone.subscribe()).status_code == 200
        notify = await phone.notify()
        assert notify.body == b""
        assert notify.get_header("content-type") is None
        assert state(notify).startswith("active")
        mailboxes.failing = False
        mwi_engine.message_waiting.mailbox_changed(["1001"])
        assert summary(await phone.notify()) == (False, 0, 0)


async def test_unknown_dialog_and_garbage_body(mwi_engine: Engine) -> None:
    async with subscriber() as phone:
        phone.to_tag = "not-ours"
        assert (await phone.subscribe(in_dialog=True)).status_code == 481
    async with subscriber(host="127.0.30.4") as phone:
        garbage = "\x01<<not a body>>\r\n" * 50  # a SUBSCRIBE's body is not read
        assert (await phone.subscribe(body=garbage)).status_code == 200
        await phone.notify()
        assert (await phone.subscribe(expires=0, in_dialog=True)).status_code == 200
        await phone.notify()
    await settled(mwi_engine)
    assert mwi_engine.message_waiting.held == 0


async def test_per_user_cap_ends_the_oldest(mwi_engine: Engine) -> None:
    mwi = mwi_engine.message_waiting
    phones = [subscriber(host=f"127.0.30.{10 + n}") for n in range(5)]
    for phone in phones:
        await phone.__aenter__()
    try:
        for phone in phones:
            assert (await phone.subscribe()).status_code == 200
            await phone.notify()
        assert mwi.subscribers("1001") == 3  # max_per_user
        for evicted in phones[:2]:
            assert state(await evicted.notify()) == "terminated;reason=rejected"
        for kept in phones[2:]:
            await kept.no_notify(wait=0.2)
    finally:
        for phone in phones:
            await phone.__aexit__()


async def test_overall_cap_503_and_nothing_leaks(mwi_engine: Engine) -> None:
    mwi = mwi_engine.message_waiting
    phones = [
        subscriber(user=u, host=f"127.0.30.{20 + n}")
        for n, u in enumerate(["1001"] * 3 + ["1002"] * 4)
    ]
    for phone in phones:
        await phone.__aenter__()
    try:
        answers = [(await phone.subscribe()).status_code for phone in phones]
        assert answers == [200] * 6 + [503]  # max_subscriptions = 6
        assert mwi.held == 6
    finally:
        for phone in phones:
            await phone.__aexit__()
    await mwi_engine.close()  # shutting down with subscriptions held
    assert mwi.held == 0
    assert mwi.tasks == 0


async def test_unauthenticated_flood_holds_nothing(mwi_engine: Engine) -> None:
    async with subscriber() as phone:
        for _ in range(300):
            phone.send(phone.request())
        statuses = []
        while len(statuses) < 300:
            statuses.append((await phone.response()).status_code)
        assert set(statuses) == {401}
    await settled(mwi_engine)
    assert mwi_engine.message_waiting.held == 0


async def test_a_fetch_at_the_per_user_cap_ends_no_one(mwi_engine: Engine) -> None:
    mwi = mwi_engine.message_waiting
    phones = [subscriber(host=f"127.0.30.{40 + n}") for n in range(4)]
    for phone in phones:
        await phone.__aenter__()
    try:
        for phone in phones[:3]:
            assert (await phone.subscribe()).status_code == 200
            await phone.notify()
        assert (await phones[3].subscribe(expires=0)).status_code == 200
        assert state(await phones[3].notify()) == "terminated;reason=timeout"
        for kept in phones[:3]:
            await kept.no_notify(wait=0.2)
        assert mwi.subscribers("1001") == 3
    finally:
        for phone in phones:
            await phone.__aexit__()


async def test_notify_ignores_record_route(mwi_engine: Engine) -> None:
    """A subscriber cannot aim our NOTIFYs at another host through Record-Route."""
    async with subscriber(host="127.0.30.60") as phone:
        ok = await phone.subscribe(headers={"Record-Route": "<sip:127.0.30.99:5999;lr>"})
        assert ok.status_code == 200
        notify = await phone.notify()
        assert notify.get_header("route") is None
        assert (await phone.subscribe(expires=0, in_dialog=True)).status_code == 200
        await phone.notify()


async def test_counts_read_elsewhere_notify_only_subscriptions_told_otherwise(
    mwi_engine: Engine, mailboxes: Mailboxes
) -> None:
    """Another node's change, as the periodic check hands it over (``counts_now``)."""
    mwi = mwi_engine.message_waiting
    async with subscriber() as phone, subscriber("1002", host="127.0.30.2") as other:
        assert (await phone.subscribe(expires=600)).status_code == 200
        assert summary(await phone.notify()) == (False, 0, 0)
        assert (await other.subscribe(expires=600)).status_code == 200
        assert summary(await other.notify()) == (False, 0, 0)
        assert sorted(mwi.watched_users()) == ["1001", "1002"]
        mwi.counts_now("1001", 0, 0)  # what it was told: nothing to say
        await phone.no_notify()
        mailboxes.of["1001"] = (1, 0)
        mwi.counts_now("1001", 1, 0)
        mwi.counts_now("1002", 0, 0)
        assert summary(await phone.notify()) == (True, 1, 0)
        await other.no_notify()
        mwi.counts_now("1001", 1, 0)  # told already
        await phone.no_notify()
        mailboxes.failing = True
        mwi.mailbox_changed(["1002"])
        assert (await other.notify()).body == b""
        mailboxes.failing = False
        mwi.counts_now("1002", 0, 0)  # its last NOTIFY said nothing: this one does
        assert summary(await other.notify()) == (False, 0, 0)
        for each in (phone, other):
            assert (await each.subscribe(expires=0, in_dialog=True)).status_code == 200
            await each.notify()
    await settled(mwi_engine)
    assert mwi.watched_users() == ()

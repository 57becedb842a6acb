"""Issue 15 items 15, 17 and 18 against a real engine on loopback, with senders that do not
wait for answers: how many digest guesses are checked at all, unknown and known users
answered alike, live calls served when the transaction table is full, and per-source
rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from engine_setup import FAST_TIMERS
from raw_sip import SDP, RawSip, digest_answer, finals

from callbridge.engine.admission import LagReading
from callbridge.engine.engine import Engine, EngineSettings, IncomingCall
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from callbridge.sip.guesses import GuessLimits
from callbridge.sip.pike import PikeLimits

HOST, PORT = "127.0.41.1", 5171
SERVER = (HOST, PORT)
USERS = (("1001", "secret1001"), ("1002", "secret1002"))
LIMITS = GuessLimits(per_source=10, per_user=20, first_block=30)


class AnswerOrHold:
    """Answers calls to ``answer``; leaves every other call ringing (its INVITE pending)."""

    async def handle(self, call: IncomingCall) -> None:
        if call.dialled == "answer":
            await call.leg.answer()
        await asyncio.Event().wait()


async def _engine(tmp_path: Path, *, lag: LagReading | None = None, **settings: object) -> Engine:
    engine = Engine(
        lag=lag,
        settings=EngineSettings(
            host=HOST,
            port=PORT,
            users=USERS,
            timers=FAST_TIMERS,
            **settings,  # type: ignore[arg-type]
        ),
        media=InProcessMediaPlane(host=HOST, port_start=43000, port_end=43199),
        tts=Tts(cache_dir=tmp_path),
    )
    engine.set_incoming_handler(AnswerOrHold())
    await engine.start()
    return engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    instance = await _engine(tmp_path, guesses=LIMITS)
    yield instance
    await instance.close()


@pytest.fixture
def peers() -> AsyncIterator[Callable[[str], RawSip]]:
    made: list[RawSip] = []

    def make(host: str) -> RawSip:
        made.append(RawSip(host, SERVER))
        return made[-1]

    yield make  # type: ignore[misc]
    for each in made:
        each.close()


def count_checks(engine: Engine) -> list[int]:
    """Counts every digest response the engine computes (one per checked guess)."""
    checked = [0]
    compute = engine.authenticator.expected_response

    def counting(params: dict[str, str], *, method: str, password: str) -> str:
        checked[0] += 1
        return compute(params, method=method, password=password)

    engine.authenticator.expected_response = counting  # type: ignore[method-assign]
    return checked


async def _challenges(peer: RawSip, count: int, *, user: str) -> list:  # type: ignore[type-arg]
    """``count`` 407 challenges for INVITEs claiming to be ``user``, asked all at once."""
    for _ in range(count):
        peer.send(
            peer.request("INVITE", user="answer", from_user=user, body=SDP.format(host=peer.host))
        )
    got = [r for r in await peer.responses(final=count) if r.status_code == 407]
    assert len(got) == count
    return got


async def _guess_all(peer: RawSip, challenges: list, passwords: list[str], user: str) -> list[int]:  # type: ignore[type-arg]
    for challenge, password in zip(challenges, passwords, strict=True):
        auth = digest_answer(challenge, user=user, password=password, method="INVITE")
        peer.send(
            peer.request(
                "INVITE",
                user="answer",
                from_user=user,
                headers={"Proxy-Authorization": auth},
                body=SDP.format(host=peer.host),
            )
        )
    return finals(await peer.responses(final=len(passwords)))


async def test_parallel_invite_guesses_from_one_address_are_mostly_not_checked(
    engine: Engine, peers: Callable[[str], RawSip]
) -> None:
    attacker = peers("127.0.41.10")
    checked = count_checks(engine)
    challenges = await _challenges(attacker, 100, user="1001")
    passwords = [f"guess{n}" for n in range(99)] + ["secret1001"]  # the right one last
    answers = await _guess_all(attacker, challenges, passwords, "1001")
    assert checked[0] == LIMITS.per_source  # before: 100 (and the last one answered 200)
    assert answers.count(407) == LIMITS.per_source
    assert answers.count(403) == 100 - LIMITS.per_source
    assert 200 not in answers
    # A user at another address is not slowed.
    phone = peers("127.0.41.11")
    [challenge] = await _challenges(phone, 1, user="1002")
    assert await _guess_all(phone, [challenge], ["secret1002"], "1002") == [200]


async def test_guesses_with_one_nonce_spend_it_at_the_first_failure(
    engine: Engine, peers: Callable[[str], RawSip]
) -> None:
    attacker = peers("127.0.41.12")
    checked = count_checks(engine)
    [challenge] = await _challenges(attacker, 1, user="1001")
    answers = await _guess_all(
        attacker, [challenge] * 5, [f"g{n}" for n in range(4)] + ["secret1001"], "1001"
    )
    assert checked[0] == 1  # before: 5, and the fifth answered 200
    assert answers == [407] * 5


async def test_twenty_addresses_guessing_one_user_are_held_to_the_user_limit(
    engine: Engine, peers: Callable[[str], RawSip]
) -> None:
    phone = peers("127.0.41.20")  # 1001's own phone authenticated before the attack
    [challenge] = await _challenges(phone, 1, user="1001")
    assert await _guess_all(phone, [challenge], ["secret1001"], "1001") == [200]
    checked = count_checks(engine)
    attackers = [peers(f"127.0.41.{30 + n}") for n in range(20)]
    for attacker in attackers:
        challenges = await _challenges(attacker, 5, user="1001")
        await _guess_all(attacker, challenges, [f"guess{n}" for n in range(5)], "1001")
    assert checked[0] == LIMITS.per_user  # before: 100
    late = peers("127.0.41.99")
    [challenge] = await _challenges(late, 1, user="1001")
    assert await _guess_all(late, [challenge], ["secret1001"], "1001") == [403]
    # The phone still gets in, and so does another user anywhere.
    [challenge] = await _challenges(phone, 1, user="1001")
    assert await _guess_all(phone, [challenge], ["secret1001"], "1001") == [200]
    [challenge] = await _challenges(late, 1, user="1002")
    assert await _guess_all(late, [challenge], ["secret1002"], "1002") == [200]


async def test_unknown_and_known_users_are_answered_alike(
    engine: Engine, peers: Callable[[str], RawSip]
) -> None:
    async def story(user: str, host: str) -> list[int]:
        peer = peers(host)
        statuses = [407]
        challenges = await _challenges(peer, 12, user=user)  # asserts 12 x 407 first
        statuses += await _guess_all(peer, challenges, [f"wrong{n}" for n in range(12)], user)
        peer.send(peer.request("REGISTER", user=user))
        statuses += finals(await peer.responses(final=1))
        return statuses

    known = await story("1001", "127.0.41.50")
    unknown = await story("nobody", "127.0.41.51")
    assert known == unknown == [407] + [407] * 10 + [403] * 2 + [401]


async def test_live_calls_and_options_are_served_when_the_table_is_full(
    tmp_path: Path, peers: Callable[[str], RawSip]
) -> None:
    engine = await _engine(tmp_path, max_server_transactions=4)
    try:
        await _table_full(peers)
    finally:
        await engine.close()


async def _table_full(peers: Callable[[str], RawSip]) -> None:
    caller = peers("127.0.41.60")
    invite = caller.request(
        "INVITE",
        user="answer",
        from_user="carrier",
        from_host="127.0.41.60",
        call_id="live-call",
        from_tag="ct",
        body=SDP.format(host=caller.host),
    )
    caller.send(invite)
    [ok] = [r for r in await caller.responses(final=1) if r.status_code >= 200]
    assert ok.status_code == 200
    to_tag = ok.to_addr.tag if ok.to_addr else None
    assert to_tag
    caller.send(
        caller.request(
            "ACK",
            user="answer",
            from_user="carrier",
            from_host="127.0.41.60",
            call_id="live-call",
            from_tag="ct",
            to_tag=to_tag,
        )
    )
    flooder = peers("127.0.41.61")
    for _ in range(4):  # max_server_transactions: calls left ringing hold the table
        flooder.send(
            flooder.request(
                "INVITE",
                user="ring",
                from_user="x",
                from_host="127.0.41.61",
                body=SDP.format(host=flooder.host),
            )
        )
    await flooder.responses(wait=0.3)
    flooder.send(
        flooder.request(
            "INVITE",
            user="ring",
            from_user="x",
            from_host="127.0.41.61",
            body=SDP.format(host=flooder.host),
        )
    )
    assert finals(await flooder.responses(final=1)) == [503]
    probe = peers("127.0.41.62")
    probe.send(probe.request("OPTIONS", user="ping"))
    assert finals(await probe.responses(final=1)) == [200]  # before: 503
    caller.send(
        caller.request(
            "BYE",
            user="answer",
            from_user="carrier",
            from_host="127.0.41.60",
            call_id="live-call",
            from_tag="ct",
            to_tag=to_tag,
            cseq=2,
        )
    )
    assert finals(await caller.responses(final=1)) == [200]  # before: 503


async def test_a_flooding_address_is_limited_and_others_served(
    tmp_path: Path, peers: Callable[[str], RawSip]
) -> None:
    engine = await _engine(tmp_path, pike=PikeLimits(requests=20, window=30.0))
    try:
        flooder = peers("127.0.41.70")
        for _ in range(300):
            flooder.send(flooder.request("OPTIONS", user="ping"))
        answers = finals(await flooder.responses(wait=0.5))
        assert answers.count(200) == 20
        assert answers.count(503) == 1  # the first refused one; the rest dropped
        probe = peers("127.0.41.71")
        probe.send(probe.request("OPTIONS", user="ping"))
        assert finals(await probe.responses(final=1)) == [200]
        assert engine.gate.pike is not None
        assert engine.gate.pike.refused == 280
    finally:
        await engine.close()


class Lag:
    """A LagReading the test sets."""

    lag = 0.0


async def test_new_requests_get_503_while_the_loop_lags_and_live_calls_go_on(
    tmp_path: Path, peers: Callable[[str], RawSip]
) -> None:
    lag = Lag()
    engine = await _engine(tmp_path, lag=lag, overload_lag=0.3)
    try:
        caller = peers("127.0.41.80")
        dialog = {
            "from_user": "carrier",
            "from_host": caller.host,
            "call_id": "lag",
            "from_tag": "l",
        }
        caller.send(
            caller.request("INVITE", user="answer", body=SDP.format(host=caller.host), **dialog)
        )
        [ok] = [r for r in await caller.responses(final=1) if r.status_code >= 200]
        to_tag = ok.to_addr.tag if ok.to_addr else None
        caller.send(caller.request("ACK", user="answer", to_tag=to_tag, **dialog))
        lag.lag = 0.5
        other = peers("127.0.41.81")
        other.send(
            other.request(
                "INVITE", user="answer", from_host=other.host, body=SDP.format(host=other.host)
            )
        )
        [busy] = [r for r in await other.responses(final=1) if r.status_code >= 200]
        assert busy.status_code == 503
        assert busy.get_header("retry-after") == "5"
        other.send(other.request("OPTIONS", user="ping"))
        assert finals(await other.responses(final=1)) == [200]
        caller.send(caller.request("BYE", user="answer", to_tag=to_tag, cseq=2, **dialog))
        assert finals(await caller.responses(final=1)) == [200]
        lag.lag = 0.0
        other.send(
            other.request(
                "INVITE", user="answer", from_host=other.host, body=SDP.format(host=other.host)
            )
        )
        assert finals(await other.responses(final=1)) == [200]
    finally:
        await engine.close()

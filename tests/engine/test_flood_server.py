"""The real server (``callbridge serve``, uvloop) sheds a flood from one address and limits
digest guesses with the keys of its configuration (issue 15 item 15)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from raw_sip import SDP, RawSip, digest_answer, finals

from peers.net import free_tcp_port
from server_process import Server, write_config

SIP_PORT = 5177
SERVER = ("127.0.0.1", SIP_PORT)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    http_port = free_tcp_port()
    config = write_config(
        tmp_path,
        sip_port=SIP_PORT,
        http_port=http_port,
        rtp_ports=(44600, 44699),
        node="flood-test",
        api_key="flood-test-key-0123456789",
        sip="pike_requests = 30\npike_window_seconds = 60\nauth_failures_per_address = 4\n",
        more='[[users]]\nextension = "1001"\npassword = "secret1001"\n',
    )
    instance = Server(config, http_port, tmp_path / "server.log")
    await instance.start()
    yield instance
    await instance.stop()


@pytest.fixture
def peers() -> AsyncIterator[Callable[[str], RawSip]]:
    made: list[RawSip] = []

    def make(host: str) -> RawSip:
        made.append(RawSip(host, SERVER))
        return made[-1]

    yield make  # type: ignore[misc]
    for each in made:
        each.close()


async def test_a_flood_from_one_address_is_shed_and_others_are_served(
    server: Server, peers: Callable[[str], RawSip], tmp_path: Path
) -> None:
    flooder = peers("127.0.42.10")
    for _ in range(500):
        flooder.send(flooder.request("INVITE", user="2000", from_host="127.0.42.10"))
    answers = finals(await flooder.responses(wait=1.0))
    assert answers.count(503) == 1  # the first refused, with Retry-After; the rest dropped
    assert len(answers) == 31  # 30 served (each its own final answer) and that 503
    probe = peers("127.0.42.11")
    probe.send(probe.request("OPTIONS", user="ping"))
    assert finals(await probe.responses(final=1)) == [200]
    log = (tmp_path / "server.log").read_text()
    assert log.count("SIP flood from 127.0.42.10") == 1


async def test_guesses_past_the_limit_are_refused_unchecked(
    server: Server, peers: Callable[[str], RawSip]
) -> None:
    attacker = peers("127.0.42.20")
    for _ in range(8):
        attacker.send(
            attacker.request(
                "INVITE", user="2000", from_user="1001", body=SDP.format(host=attacker.host)
            )
        )
    challenges = [r for r in await attacker.responses(final=8) if r.status_code == 407]
    assert len(challenges) == 8
    for n, challenge in enumerate(challenges):
        password = "secret1001" if n == 7 else f"guess{n}"
        auth = digest_answer(challenge, user="1001", password=password, method="INVITE")
        attacker.send(
            attacker.request(
                "INVITE",
                user="2000",
                from_user="1001",
                headers={"Proxy-Authorization": auth},
                body=SDP.format(host=attacker.host),
            )
        )
    # The right password (sent last) was never checked: 403, not a call.
    assert finals(await attacker.responses(final=8)) == [407] * 4 + [403] * 4

"""Issue 15: 600 mutated SIP messages (a bounded run of ``bench/bench_sip_fuzz.py``'s 3000)
against a real engine over loopback UDP, one in six on a TCP connection of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callbridge.engine.engine import Engine
from sip_fuzz import fuzz_engine, mutations, run_fuzz

HOST, PORT = "127.0.41.1", 5080
PEER, PEER_PORT = "127.0.41.2", 5090


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    instance = fuzz_engine(host=HOST, port=PORT, rtp=(43000, 43399), tts_dir=tmp_path)
    await instance.start()
    yield instance
    await instance.close()


@pytest.mark.timeout(180)
async def test_600_mutated_messages_all_answered_without_traceback_or_leak(
    engine: Engine,
) -> None:
    messages = mutations(600, seed=15, peer=PEER, port=PEER_PORT, target=HOST)
    report = await run_fuzz(engine, messages, peer=PEER, peer_port=PEER_PORT, tcp_every=6)
    assert report.first_tracebacks == []
    assert report.tracebacks == 0
    assert report.expected > 300  # the mutations leave most requests addressable
    assert report.missing == []
    assert report.transactions_left == report.pending_left == report.legs_left == 0
    assert report.rtp_ports_leased == 0
    assert report.leaked_fds <= 0, report

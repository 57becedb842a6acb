"""The call service end to end: a real engine on loopback, SQLite (or PostgreSQL), the
webhook dispatcher and a real HTTP server in the test serving documents and receiving
callbacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from call_world import ENGINE_HOST, ENGINE_PORT, POSTGRESQL, SQLITE, CallWorld, Unlimited

from callbridge.calls.audio import HttpAudioLoader
from callbridge.calls.audio_cache import AudioCache
from callbridge.calls.callbacks_service import CallbackSettings, CallbridgeCallbacks
from callbridge.calls.service import CallbridgeCalls, CallServiceSettings
from callbridge.dialects.voicexml import parse_voice_xml
from callbridge.engine.engine import Engine, EngineSettings
from callbridge.engine.routing import Trunk
from callbridge.httpclient.client import HttpClient
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from callbridge.sip.transaction import Timers
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.repository import CallRepository
from callbridge.webhooks.backoff import Backoff
from callbridge.webhooks.dispatcher import WebhookDispatcher
from peers.conftest import (  # noqa: F401  (fixtures shared with the peer tests)
    baresip,
    sipp_uac,
    sipp_uas,
)
from postgres_server import fresh_database
from webhook_receiver import LOOPBACK_ALLOWED, Receiver

FAST_TIMERS = Timers(t1=0.1, t2=0.4, t4=0.5, d=1.0)
NODE = "test-node"


def test_audio_cache(directory: Path) -> AudioCache:
    return AudioCache(directory=directory, ttl=300.0, max_bytes=64 * 1024 * 1024)


@pytest.fixture(scope="session")
def tts_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tts")


@pytest.fixture
async def engine(tts_cache: Path) -> AsyncIterator[Engine]:
    plane = InProcessMediaPlane(host=ENGINE_HOST, port_start=43000, port_end=43199)
    instance = Engine(
        settings=EngineSettings(
            host=ENGINE_HOST,
            port=ENGINE_PORT,
            users=(("1001", "secret1001"), ("1002", "secret1002")),
            trunks=(Trunk(name="carrier", uri="sip:127.0.10.2:5060", default=True),),
            timers=FAST_TIMERS,
        ),
        media=plane,
        tts=Tts(cache_dir=tts_cache),
    )
    await instance.start()
    yield instance
    await instance.close()


@pytest.fixture
async def database(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """SQLite; PostgreSQL too for the tests marked with ``call_world.BOTH_DATABASES``."""
    async with AsyncExitStack() as stack:
        url = f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"
        if getattr(request, "param", SQLITE) == POSTGRESQL:
            url = await stack.enter_async_context(
                fresh_database(request.getfixturevalue("postgres"))
            )
        db = Database(url=url)
        stack.push_async_callback(db.close)
        await db.migrate()
        yield db


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real HTTP server in the test (documents, files, callbacks), on its own."""
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def world(engine: Engine, database: Database, tmp_path: Path) -> AsyncIterator[CallWorld]:
    receiver = Receiver()
    await receiver.start()
    clock = SystemClock()
    async with HttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0) as client:
        dispatcher = WebhookDispatcher(
            database=database,
            client=client,
            clock=clock,
            backoff=Backoff(base=0.05, cap=0.2),
            node_id=NODE,
            poll_interval=0.05,
            # The receiver shares its event loop with the test, whose audio checks can hold
            # it for seconds on a loaded machine: a shorter timeout would send callbacks
            # twice (retried after a timeout the receiver did answer) and fail the tests
            # that check their order.  Retries have tests of their own (tests/webhooks).
            request_timeout=10.0,
            lease=30.0,
        )
        repository = CallRepository(database=database, clock=clock, listener=dispatcher)
        calls = CallbridgeCalls(
            engine=engine,
            repository=repository,
            clock=clock,
            http=client,
            audio=HttpAudioLoader(client=client, cache=test_audio_cache(tmp_path / "audio")),
            limiter=Unlimited(),
            settings=CallServiceSettings(
                node=NODE,
                public_url="http://127.0.0.1:8080",
                recordings_dir=tmp_path / "recordings",
                translate=parse_voice_xml,
            ),
        )
        dispatcher.start()
        await calls.start()
        try:
            yield CallWorld(engine, calls, repository, receiver, dispatcher)
        finally:
            await calls.close()
            await dispatcher.close()
            await receiver.stop()


@pytest.fixture
async def callbacks(world: CallWorld, tmp_path: Path) -> AsyncIterator[CallbridgeCallbacks]:
    async with HttpClient(policy=LOOPBACK_ALLOWED, timeout=5.0) as client:
        service = CallbridgeCallbacks(
            engine=world.engine,
            repository=world.repository,
            clock=SystemClock(),
            audio=HttpAudioLoader(
                client=client, cache=test_audio_cache(tmp_path / "callback-audio")
            ),
            limiter=Unlimited(),
            settings=CallbackSettings(node=NODE),
            sessions=world.calls.sessions,
            live=world.calls.live,
        )
        try:
            yield service
        finally:
            await service.close()

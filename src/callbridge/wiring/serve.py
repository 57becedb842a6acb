"""``callbridge serve``: start-up in order (HTTP socket, database, SIP engine), every part
built and put together, served until SIGTERM/SIGINT, then drained and closed in reverse."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import AsyncExitStack

import uvloop

from callbridge.calls.announcements.play import AnnouncementAudio
from callbridge.calls.audio import HttpAudioLoader
from callbridge.calls.callbacks_service import CallbridgeCallbacks
from callbridge.calls.cdr import CALLS_ENDED
from callbridge.calls.control.queue_overflow import QueueOverflow
from callbridge.calls.drain import DrainGate, drain
from callbridge.calls.extensions import ExtensionDialer
from callbridge.calls.inbound.handler import InboundCallHandler
from callbridge.calls.inbound.numbers import NumberPlan
from callbridge.calls.key_secrets import StoredSigningSecrets
from callbridge.calls.live import LiveCalls
from callbridge.calls.originate.legs import CallStore
from callbridge.calls.overload import LoopLag
from callbridge.calls.presence import Presence
from callbridge.calls.queues.enqueue import QueueVerb
from callbridge.calls.service import CallbridgeCalls
from callbridge.config import CallbridgeConfig
from callbridge.engine.tasks import TaskOwner
from callbridge.httpclient.process import ProcessHttpClient
from callbridge.log_bounds import bound_log_lines
from callbridge.log_redaction import install_key_redaction
from callbridge.metrics.server import ServerState, server_metrics
from callbridge.metrics.timed_http import TimedDocuments
from callbridge.store.clock import SystemClock
from callbridge.store.idempotency import IdempotencyStore
from callbridge.store.repository import ApiKeyRepository, CallRepository
from callbridge.wiring.announcements import announcement_library, hold_music, media_library
from callbridge.wiring.api_app import api_app, api_server
from callbridge.wiring.api_keys import configured_keys
from callbridge.wiring.call_services import (
    audio_cache,
    call_service_settings,
    callback_settings,
    overload_guarded,
)
from callbridge.wiring.control import configured_call_control
from callbridge.wiring.database import open_database, prune_idempotency_keys
from callbridge.wiring.destinations import destination_policy
from callbridge.wiring.engine import build_engine, build_tts, start_engine
from callbridge.wiring.http_client import http_client
from callbridge.wiring.numbers import inbound_numbers
from callbridge.wiring.originate import originate_api
from callbridge.wiring.queues import configured_queues
from callbridge.wiring.shutdown import ShutdownSignals
from callbridge.wiring.startup import StartupError, bind_http_socket, next_steps, startup_warnings
from callbridge.wiring.voicemail import build_voicemail, shared_lights, wire_message_waiting
from callbridge.wiring.webhooks import flush_seconds, twilio_tokens, webhook_dispatcher

log = logging.getLogger(__name__)


async def serve(config: CallbridgeConfig) -> None:
    clock = SystemClock()
    for warning in startup_warnings(config):
        log.warning("%s", warning)
    host, port = config.http.host_port
    http_socket = bind_http_socket(host, port)
    try:
        database = await open_database(config)
    except StartupError:
        http_socket.close()
        raise
    tts = build_tts(config)
    lag = LoopLag()  # read by the SIP engine's and the call APIs' load shedding
    engine = build_engine(config, tts, lag=lag)
    try:
        await start_engine(config, engine)
    except StartupError:
        http_socket.close()
        await engine.close()
        await database.close()
        raise
    async with AsyncExitStack() as stack:
        stack.callback(http_socket.close)
        stack.push_async_callback(database.close)
        stack.push_async_callback(engine.close)
        http = http_client(config)
        stack.push_async_callback(http.close)
        metrics = server_metrics()
        tokens = twilio_tokens(config)
        dispatcher = webhook_dispatcher(
            config, database=database, http=http, clock=clock, metrics=metrics, tokens=tokens
        )
        repository = CallRepository(database=database, clock=clock, listener=dispatcher)
        keys = ApiKeyRepository(database=database, clock=clock)
        limiter = await configured_keys(config, keys)
        policy = await destination_policy(config, keys)
        tasks = TaskOwner(name="server")
        stack.push_async_callback(tasks.close)
        tasks.spawn(lag.run(), name="loop-lag")  # /metrics reports it, guards or not
        gate = DrainGate(inner=overload_guarded(config, limiter, lag))  # refuses at shutdown
        idempotency = IdempotencyStore(database=database, clock=clock)
        tasks.spawn(prune_idempotency_keys(idempotency), name="idempotency-prune")
        library = await announcement_library(config, tts)
        media = await media_library(
            config, library=library, tts=tts, database=database, clock=clock
        )
        music = hold_music(config)
        log.info("music on hold: %s, %.1f s", music.name, music.seconds)
        audio = AnnouncementAudio(
            inner=HttpAudioLoader(client=http, cache=audio_cache(config)), library=library
        )
        live = LiveCalls(max_duration=config.calls.max_duration)
        stack.push_async_callback(live.close)
        worker = http if isinstance(http, ProcessHttpClient) else None
        metrics.watch(
            ServerState(
                engine=engine, live_calls=live, calls_ended=CALLS_ENDED, lag=lag, http_worker=worker
            )
        )
        presence = Presence(
            contacts=engine.registrar, extensions=[u.extension for u in config.users]
        )
        engine.watch_legs(presence.watch)
        queues = configured_queues(config, engine, music, presence, database)
        voicemail = build_voicemail(config, database, clock, announcements=library)
        await voicemail.audio.load()  # every node serves what this one recorded before 0015
        tasks.spawn(voicemail.audio.run(), name="voicemail-audio-prune")
        tasks.spawn(voicemail.mailer.run(), name="voicemail-mailer")
        control = configured_call_control(
            config,
            engine=engine,
            repository=repository,
            clock=clock,
            http=http,
            announcements=library,
            music=music,
            queues=queues,
            voicemail=voicemail.service,
            policy=policy,
        )
        overflow = QueueOverflow(control=control)
        calls = CallbridgeCalls(
            engine=engine,
            repository=repository,
            clock=clock,
            http=TimedDocuments(inner=http, metrics=metrics.documents),
            audio=audio,
            limiter=gate,
            settings=call_service_settings(config),
            live=live,
            policy=policy,
            secrets=StoredSigningSecrets(keys=keys),
            queues=lambda leg, answered=None, overflowed=None: QueueVerb(
                queues=queues,
                caller=leg,
                overflow=overflow,
                answered=answered,
                overflowed=overflowed,
            ),
            voicemail=voicemail.service,
            control=control,
        )
        stored = CallStore(repository=repository, clock=clock, node=config.calls.node)
        originate = await originate_api(config, engine, presence, calls, keys, queues, stored, gate)
        stack.push_async_callback(originate[0].close)
        engine.set_incoming_handler(
            InboundCallHandler(
                numbers=NumberPlan(await inbound_numbers(config, keys)),
                sessions=calls,
                extensions=ExtensionDialer(engine=engine, max_duration=config.calls.max_duration),
                directory=engine.router,
            )
        )
        # Phones' message-waiting lights follow the voicemail store.
        voicemail.service.set_notifier(engine.message_waiting)
        wire_message_waiting(engine, counts=voicemail.service)
        tasks.spawn(shared_lights(engine, voicemail.service).run(), name="message-waiting-check")
        callbacks = CallbridgeCallbacks(
            engine=engine,
            repository=repository,
            clock=clock,
            audio=audio,
            limiter=gate,
            settings=callback_settings(config),
            live=live,
            policy=policy,
            sessions=calls.sessions,
        )
        dispatcher.start()
        stack.push_async_callback(dispatcher.close)
        await calls.start()
        stack.push_async_callback(calls.close)
        stack.push_async_callback(callbacks.close)
        app = api_app(
            config,
            engine=engine,
            calls=calls,
            keys=keys,
            callbacks=callbacks,
            tts=tts,
            idempotency=idempotency,
            metrics=metrics.registry,
            twilio_tokens=tokens,
            queues=queues,
            voicemails=voicemail.service,
            announcements=media,
            presence=presence,
            originate=originate,
        )
        log.info(
            "SIP on %s, HTTP on %s:%d, node %s", config.sip.listen, host, port, config.calls.node
        )
        for step in next_steps(config):
            log.info("%s", step)
        server = api_server(config, app)
        install_key_redaction()  # uvicorn's Config has configured its loggers by now
        bound_log_lines()
        freeze_startup_objects()
        lag.forget(now=asyncio.get_running_loop().time())  # start-up is not load
        with ShutdownSignals() as signals:
            http_task = asyncio.create_task(server.serve(sockets=[http_socket]), name="http")
            await signals.wait_or(http_task)
            if signals.stop.is_set():
                await drain(
                    gate=gate,
                    engine=engine,
                    calls=live,
                    seconds=config.calls.drain_seconds,
                    hurry=signals.hurry,
                )
                if not await dispatcher.flush(timeout=flush_seconds(config)):
                    log.warning("shutting down: callbacks left in the outbox for the next start")
            server.should_exit = True
            await http_task


def freeze_startup_objects() -> None:
    """Move every object alive once the server is built (modules, the app, the engine)
    out of the garbage collector's reach: they live as long as the process.  Each full
    collection otherwise walked them all again: one stopped the event loop for 86 ms
    during the outbound bench at 60 calls/s (the one seen under load with this took
    9 ms).  Objects made later are collected as before."""
    gc.collect()
    gc.freeze()


def run(config: CallbridgeConfig) -> None:
    """Serve on uvloop's event loop (libuv) rather than asyncio's own: in the outbound
    bench at 50 calls/s the server took 9 % less CPU (53.7 against 59.3 % of a core over
    three interleaved runs) and answered faster.  The tests run the same code on asyncio's
    loop, and the real-server tests on this one."""
    uvloop.run(serve(config))

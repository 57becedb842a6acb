"""Composition root: the only place that wires implementations together."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import AsyncExitStack
from pathlib import Path
from types import MappingProxyType

import uvicorn
import uvloop
from aiosipua.headers import parse_uri

from callbridge.announcement_setup import announcement_library, hold_music, media_library
from callbridge.api.app import create_http_app
from callbridge.api.head_deadline import with_head_deadline
from callbridge.api.key_throttle import FailedKeyThrottle, ThrottleSettings
from callbridge.callflow.ports import AudioLoader
from callbridge.callflow.runner import RunnerLimits
from callbridge.calls.announcements.play import AnnouncementAudio
from callbridge.calls.audio import HttpAudioLoader
from callbridge.calls.audio_cache import AudioCache
from callbridge.calls.callback_programs import CallbackLegPrograms
from callbridge.calls.callbacks_service import CallbackSettings, CallbridgeCallbacks
from callbridge.calls.cdr import CALLS_ENDED
from callbridge.calls.control.ports import ControlPorts
from callbridge.calls.control.queue_overflow import QueueOverflow
from callbridge.calls.control.server_wiring import call_control, notify_signer
from callbridge.calls.destination_policy import (
    DEFAULT_DENIED_PREFIXES,
    DestinationPolicy,
    KeyRules,
    TrunkAddress,
)
from callbridge.calls.drain import DrainGate, drain
from callbridge.calls.extensions import ExtensionDialer
from callbridge.calls.hold_music import HoldMusic
from callbridge.calls.inbound.handler import InboundCallHandler
from callbridge.calls.inbound.numbers import InboundNumber, NumberPlan
from callbridge.calls.key_secrets import StoredSigningSecrets
from callbridge.calls.limits import CallLimiter, KeyLimits
from callbridge.calls.lines import Line
from callbridge.calls.live import LiveCalls
from callbridge.calls.originate.clients import OriginateClient
from callbridge.calls.originate.context import ContextFlow
from callbridge.calls.originate.service import OriginateService, OriginateTimes, PbxDirectory
from callbridge.calls.overload import LoopLag, OverloadGuard
from callbridge.calls.presence import Presence
from callbridge.calls.queues import Queues, QueueSettings, Strategy
from callbridge.calls.queues.enqueue import QueueVerb
from callbridge.calls.request import Announcement, StatusCallback
from callbridge.calls.service import Admission, CallbridgeCalls, CallServiceSettings
from callbridge.calls.session_factory import SigningSecrets
from callbridge.codecs.formats import PCMA, PCMU
from callbridge.config import CallbridgeConfig
from callbridge.config_control import number_control
from callbridge.dialects.originate_auth import OriginateClients
from callbridge.dialects.voicexml import parse_voice_xml
from callbridge.engine.admission import LagReading
from callbridge.engine.engine import Engine, EngineSettings
from callbridge.engine.message_waiting import SubscriptionLimits
from callbridge.engine.routing import Trunk
from callbridge.engine.subscription import MessageCounts
from callbridge.engine.tasks import TaskOwner
from callbridge.httpclient.address_policy import AddressPolicy, parse_network
from callbridge.httpclient.client import HttpClient
from callbridge.httpclient.own_addresses import own_addresses
from callbridge.httpclient.port import HttpRequests
from callbridge.httpclient.process import ProcessHttpClient
from callbridge.log_bounds import bound_log_lines
from callbridge.log_redaction import install_key_redaction
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from callbridge.metrics.server import ServerState, server_metrics
from callbridge.metrics.timed_http import TimedDocuments, TimedWebhooks
from callbridge.shutdown import ApiServer, ShutdownSignals
from callbridge.sip.guesses import GuessLimits
from callbridge.sip.pike import PikeLimits
from callbridge.sip.session_timer import SessionTimerPolicy
from callbridge.sip.tcp import TcpLimits
from callbridge.startup import (
    StartupError,
    bind_failed,
    bind_http_socket,
    database_failed,
    next_steps,
    startup_warnings,
)
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.idempotency import IdempotencyStore
from callbridge.store.key_cache import CachedApiKeys
from callbridge.store.records import ApiKeyRecord
from callbridge.store.repository import ApiKeyRepository, CallRepository
from callbridge.voicemail_setup import build_voicemail
from callbridge.webhooks.dispatcher import WebhookDispatcher
from callbridge.webhooks.params import CallbackEvent
from callbridge.webhooks.twilio_signature import AuthTokens, TwilioWebhookSigner

log = logging.getLogger(__name__)

_CODECS = {"PCMU": PCMU, "PCMA": PCMA}
WEBHOOK_FLUSH_MARGIN = 5.0  # a shutdown sends owed callbacks for webhook_timeout + this


def engine_settings(config: CallbridgeConfig) -> EngineSettings:
    host, port = config.sip.host_port
    return EngineSettings(
        host=host,
        port=port,
        advertised_host=config.sip.advertised_address,
        realm=config.sip.realm,
        users=tuple((u.extension, u.password) for u in config.users),
        trunks=tuple(
            Trunk(
                name=t.name,
                uri=t.uri,
                default=t.default,
                username=t.username,
                password=t.password,
                inbound_networks=None
                if t.inbound_addresses is None
                else tuple(parse_network(each) for each in t.inbound_addresses),
            )
            for t in config.trunks
        ),
        max_server_transactions=config.sip.max_server_transactions,
        pike=sip_pike(config),
        overload_lag=config.sip.overload_lag_ms / 1000 if config.sip.overload_lag_ms else None,
        guesses=GuessLimits(
            per_source=config.sip.auth_failures_per_address,
            per_user=config.sip.auth_failures_per_user,
            window=config.sip.auth_failure_window_seconds,
            first_block=config.sip.auth_block_seconds,
            max_block=config.sip.auth_block_max_seconds,
        ),
        session_timers=SessionTimerPolicy(
            session_expires=config.sip.session_expires, min_se=config.sip.min_se
        ),
        tcp_limits=TcpLimits(
            max_connections=config.sip.tcp_max_connections,
            max_per_source=config.sip.tcp_max_per_source,
            idle_seconds=config.sip.tcp_idle_seconds,
            read_seconds=config.sip.tcp_read_seconds,
        ),
        subscriptions=SubscriptionLimits(
            min_expires=config.mwi.min_expires,
            max_expires=config.mwi.max_expires,
            max_subscriptions=config.mwi.max_subscriptions,
            max_per_user=config.mwi.max_per_user,
        ),
    )


def wire_message_waiting(engine: Engine, counts: MessageCounts | None) -> None:
    """Phones' message-summary subscriptions read their counts from ``counts`` (voicemail's
    ``Voicemail``, which is told of changes through ``engine.message_waiting``); None: the
    package is not offered (489)."""
    if counts is not None:
        engine.message_waiting.serve(counts)


async def originate_api(
    config: CallbridgeConfig,
    engine: Engine,
    presence: Presence,
    calls: CallbridgeCalls,
    keys: ApiKeyRepository,
    queues: Queues,
) -> tuple[OriginateService, OriginateClients]:
    """seed-002's OriginateCall: the service (close it at shutdown) and its clients."""
    directory = PbxDirectory(
        projects=frozenset(p.id for p in config.projects),
        users={u.extension: u.project for u in config.users},
        trunks=frozenset(t.name for t in config.trunks),
        default_trunk=config.default_trunk.name if config.default_trunk else None,
        contexts={
            (c.project, c.name): ContextFlow(voice_url=c.voice_url, voice_xml=c.voice_xml)
            for c in config.contexts
        },
    )
    service = OriginateService(
        engine=engine,
        presence=presence,
        directory=directory,
        contexts=calls,
        translate=parse_voice_xml,
        base_url=config.http.base_url or "",
        queues=queues,
        times=OriginateTimes(max_duration=config.calls.max_duration),
    )
    key_ids: dict[str, str | None] = {}
    for configured in config.api_keys:
        record = await keys.find_by_key(configured.key)
        key_ids[configured.name] = None if record is None else record.id
    clients = OriginateClients(
        OriginateClient(
            username=u.username,
            password=u.password,
            key=u.key,
            project=u.project,
            api_key_id=None if u.api_key is None else key_ids.get(u.api_key),
        )
        for u in config.originate_users
    )
    return service, clients


def sip_pike(config: CallbridgeConfig) -> PikeLimits | None:
    if config.sip.pike_requests == 0:
        return None
    return PikeLimits(requests=config.sip.pike_requests, window=config.sip.pike_window_seconds)


def configured_lines(config: CallbridgeConfig) -> tuple[Line, ...]:
    return tuple(
        Line(
            id=line.id,
            name=line.display_name,
            users=line.users,
            numbers=line.numbers,
            ring_timeout=line.ring_timeout,
            forward_to=line.forward_to,
            forward_timeout=line.forward_timeout,
            number=line.number,
            api_keys=line.api_keys,
        )
        for line in config.lines
    )


def configured_queues(
    config: CallbridgeConfig, engine: Engine, music: HoldMusic, presence: Presence
) -> Queues:
    """[[queues]]: members online, busy or resting as ``presence`` says (with the queues'
    own view of their calls); waiting callers hear ``music`` ([media] music_on_hold)."""
    settings = tuple(
        QueueSettings(
            id=q.id,
            project=q.project,
            strategy=Strategy(q.strategy),
            members=q.members,
            member_timeout=q.member_timeout,
            wrapup=q.wrapup,
            max_wait=q.max_wait,
            overflow=q.overflow,
            announce_position_every=q.announce_position_every,
        )
        for q in config.queues
    )
    return Queues(queues=settings, engine=engine, presence=presence, music=music)


def build_tts(config: CallbridgeConfig) -> Tts:
    return Tts(cache_dir=Path(config.media.tts_cache_dir))


def build_engine(config: CallbridgeConfig, tts: Tts, lag: LagReading | None = None) -> Engine:
    """The SIP engine; ``tts`` speaks its prompts (and lists the voices the APIs offer);
    ``lag`` tells it how late the event loop runs (it sheds load on [sip] overload_lag_ms)."""
    host, _ = config.sip.host_port
    plane = InProcessMediaPlane(
        host=host,
        advertised_host=config.sip.advertised_address,
        port_start=config.media.rtp_port_start,
        port_end=config.media.rtp_port_end,
        codecs=tuple(_CODECS[name] for name in config.media.codecs),
        rtp_timeout=config.media.rtp_timeout,
    )
    engine = Engine(settings=engine_settings(config), media=plane, tts=tts, lag=lag)
    engine.set_incoming_handler(
        ExtensionDialer(engine=engine, max_duration=config.calls.max_duration)
    )
    return engine


async def configured_keys(config: CallbridgeConfig, keys: ApiKeyRepository) -> CallLimiter:
    """Store the configured API keys (hashed) and give each its limits; revoke the stored
    keys that are no longer configured."""
    limiter = CallLimiter()
    configured: list[str] = []
    for key in config.api_keys:
        record = await keys.ensure(
            key=key.key,
            name=key.name,
            scopes=key.scopes,
            calls_per_second=key.calls_per_second,
            max_concurrent=key.max_concurrent,
            signing_secret=key.signing_secret,
            on_generated_secret=show_generated_secret,
        )
        limiter.set_limits(
            record.id,
            KeyLimits(calls_per_second=key.calls_per_second, max_concurrent=key.max_concurrent),
        )
        configured.append(record.id)
    revoked = await keys.revoke_all_except(configured)
    if revoked:
        log.warning("API keys no longer configured, revoked: %s", ", ".join(revoked))
    return limiter


async def destination_policy(config: CallbridgeConfig, keys: ApiKeyRepository) -> DestinationPolicy:
    """Where each configured key's calls may go (their ids as stored), the configured
    trunks and users, and the names this server has in SIP URIs."""
    rules: dict[str, KeyRules] = {}
    for key in config.api_keys:
        record = await keys.find_by_key(key.key)
        if record is not None:
            rules[record.id] = KeyRules(
                allowed_destinations=key.allowed_destinations,
                allow_sip_uris=key.allow_sip_uris,
                allowed_trunks=key.allowed_trunks,
                caller_ids=key.caller_ids,
            )
    host, port = config.sip.host_port
    local = {host, config.sip.advertised_address or host}
    return DestinationPolicy(
        denied_prefixes=(
            DEFAULT_DENIED_PREFIXES
            if config.calls.denied_prefixes is None
            else config.calls.denied_prefixes
        ),
        keys=MappingProxyType(rules),
        trunks=tuple(trunk_address(t.name, t.uri, t.default) for t in config.trunks),
        extensions=frozenset(u.extension for u in config.users),
        local_addresses=frozenset((each.lower(), port) for each in local),
    )


async def inbound_numbers(
    config: CallbridgeConfig, keys: ApiKeyRepository
) -> tuple[InboundNumber, ...]:
    """The configured [[numbers]], each with its key's id as stored and its line."""
    lines = {line.id: line for line in configured_lines(config)}
    numbers: list[InboundNumber] = []
    for number in config.numbers:
        key_id = None
        if number.api_key is not None:
            key = next(k for k in config.api_keys if k.name == number.api_key)
            record = await keys.find_by_key(key.key)
            key_id = None if record is None else record.id
        callback = None
        if number.status_callback is not None:
            callback = StatusCallback(
                url=number.status_callback,
                events=tuple(CallbackEvent(each) for each in number.status_callback_event.split()),
            )
        numbers.append(
            InboundNumber(
                number=number.number,
                voice_url=number.voice_url,
                voice_method=number.voice_method,
                user=number.user,
                line=None if number.line is None else lines[number.line],
                forward_to=number.forward_to,
                queue=number.queue,
                status_callback=callback,
                api_key_id=key_id,
                api_key_name=number.api_key,
                mailbox=number.mailbox,
                record=number.record,
                control=number_control(
                    number=number.number,
                    control_url=number.control_url,
                    control_retries=number.control_retries,
                    control_timeout=number.control_timeout,
                    notify_url=number.notify_url,
                    announcement=number.announcement,
                    backup=number.backup,
                    mailbox=number.mailbox,
                ),
            )
        )
    return tuple(numbers)


def trunk_address(name: str, uri: str, default: bool) -> TrunkAddress:
    parsed = parse_uri(uri)
    port = parsed.port or (5061 if parsed.scheme == "sips" else 5060)
    return TrunkAddress(name=name, host=parsed.host.strip("[]").lower(), port=port, default=default)


def show_generated_secret(record: ApiKeyRecord) -> None:
    """The one time a generated signing secret is shown unasked (``callbridge keys list``
    and ``GET /api/v2/keys/self`` show it again)."""
    log.warning(
        "API key %r: generated its callbacks' signing secret %s (shown once; later: "
        "`callbridge keys list --config FILE` or GET /api/v2/keys/self)",
        record.name,
        record.signing_secret,
    )


def overload_guarded(config: CallbridgeConfig, limiter: CallLimiter, lag: LoopLag) -> Admission:
    """The per-key limits, behind the overload guard unless it is turned off."""
    if config.calls.overload_lag_ms <= 0:
        return limiter
    return OverloadGuard(inner=limiter, lag=lag, max_lag=config.calls.overload_lag_ms / 1000)


def audio_cache(config: CallbridgeConfig) -> AudioCache:
    return AudioCache(
        directory=Path(config.calls.audio_cache_dir),
        ttl=config.calls.audio_cache_seconds,
        max_bytes=int(config.calls.audio_cache_mb * 1024 * 1024),
    )


def call_service_settings(config: CallbridgeConfig) -> CallServiceSettings:
    return CallServiceSettings(
        node=config.calls.node,
        public_url=config.http.base_url,
        recordings_dir=Path(config.media.recordings_dir),
        translate=parse_voice_xml,
        runner_limits=RunnerLimits(
            max_documents=config.calls.max_document_fetches,
            max_documents_per_minute=config.calls.max_document_fetches_per_minute,
        ),
    )


def callback_leg_programs(
    config: CallbridgeConfig,
    *,
    http: HttpRequests,
    audio: AudioLoader,
    repository: CallRepository,
    secrets: SigningSecrets,
) -> CallbackLegPrograms:
    """What a callback leg runs before the bridge: the call service's documents and limits."""
    settings = call_service_settings(config)
    return CallbackLegPrograms(
        http=http,
        audio=audio,
        translate=settings.translate,
        limits=settings.runner_limits,
        repository=repository,
        recordings_dir=settings.recordings_dir,
        public_url=settings.public_url,
        secrets=secrets,
    )


def callback_settings(config: CallbridgeConfig) -> CallbackSettings:
    text = config.calls.callback_failure_text
    if text is None:
        return CallbackSettings(node=config.calls.node)
    return CallbackSettings(node=config.calls.node, failure_announcement=Announcement(text=text))


async def open_database(config: CallbridgeConfig) -> Database:
    """The database, migrated to this version's schema; raises :class:`StartupError`
    (one line, no password) when it cannot be opened or migrated."""
    url = config.database.url
    try:
        database = Database(url=url)
    except Exception as exc:  # a bad URL or a missing driver, whatever SQLAlchemy raises
        raise database_failed(url, exc) from exc
    try:
        await database.migrate()
    except Exception as exc:  # unreachable, refused, wrong password: all said in one line
        await database.close()
        raise database_failed(url, exc) from exc
    return database


async def start_engine(config: CallbridgeConfig, engine: Engine) -> None:
    try:
        await engine.start()
    except OSError as exc:
        raise bind_failed("SIP", config.sip.listen, exc) from exc


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
        twilio_tokens = AuthTokens()  # the configured keys' now, the others' as they sign in
        for configured in config.api_keys:
            twilio_tokens.learn(configured.name, configured.key)
        dispatcher = WebhookDispatcher(
            database=database,
            client=TimedWebhooks(inner=http, metrics=metrics.webhooks),
            clock=clock,
            node_id=config.calls.node,
            request_timeout=config.calls.webhook_timeout,
            sign=notify_signer(
                (n.notify_url for n in config.numbers), TwilioWebhookSigner(tokens=twilio_tokens)
            ),
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
        queues = configured_queues(config, engine, music, presence)
        voicemail = build_voicemail(config, database, clock, announcements=library)
        tasks.spawn(voicemail.mailer.run(), name="voicemail-mailer")
        control = call_control(
            engine=engine,
            router=engine.router,
            realm=config.sip.realm,
            store=repository,
            clock=clock,
            http=http,
            ports=ControlPorts(
                announcements=library,
                hold_music=music,
                queues=queues,
                voicemail=voicemail.service,
            ),
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
            queues=lambda leg: QueueVerb(queues=queues, caller=leg, overflow=overflow),
            voicemail=voicemail.service,
            control=control,
        )
        originate = await originate_api(config, engine, presence, calls, keys, queues)
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
        callbacks = CallbridgeCallbacks(
            engine=engine,
            repository=repository,
            clock=clock,
            audio=audio,
            limiter=gate,
            settings=callback_settings(config),
            live=live,
            policy=policy,
            programs=callback_leg_programs(
                config,
                http=TimedDocuments(inner=http, metrics=metrics.documents),
                audio=audio,
                repository=repository,
                secrets=StoredSigningSecrets(keys=keys),
            ),
        )
        dispatcher.start()
        stack.push_async_callback(dispatcher.close)
        await calls.start()
        stack.push_async_callback(calls.close)
        stack.push_async_callback(callbacks.close)
        app = create_http_app(
            engine=engine,
            calls=calls,
            api_keys=CachedApiKeys(keys=keys, ttl=config.http.api_key_cache_seconds),
            callbacks=callbacks,
            lines=configured_lines(config),
            voices=tts,
            idempotency=idempotency,
            throttle=key_throttle(config),
            body_timeout=config.http.body_timeout,
            metrics=metrics.registry,
            metrics_public=config.http.metrics_public,
            twilio_tokens=twilio_tokens,
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
        protocol = with_head_deadline(config.http.header_timeout)
        server = ApiServer(
            # uvicorn's lines go through the root logger's handler (callbridge.log_format),
            # in the configured format, with the request's X-Request-Id.
            uvicorn.Config(
                app, host=host, port=port, log_config=None, log_level=None, http=protocol
            )
        )
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
                flush = config.calls.webhook_timeout + WEBHOOK_FLUSH_MARGIN
                if not await dispatcher.flush(timeout=flush):
                    log.warning("shutting down: callbacks left in the outbox for the next start")
            server.should_exit = True
            await http_task


async def prune_idempotency_keys(store: IdempotencyStore) -> None:
    """Delete the kept replies of idempotent requests once they are a day old, hourly."""
    while True:
        try:
            pruned = await store.prune()
        except Exception:  # the database may be briefly away: try again next hour
            log.exception("could not prune idempotency keys")
        else:
            if pruned:
                log.info("pruned %d idempotency keys older than a day", pruned)
        await asyncio.sleep(3600)


def address_policy(config: CallbridgeConfig) -> AddressPolicy:
    """[http_client]'s networks, ``"self"`` standing for this host's addresses and the ones
    it is configured with."""
    configured = [config.sip.host_port[0], config.http.host_port[0]]
    configured += [config.sip.advertised_address or ""]
    return AddressPolicy.from_entries(
        deny=config.http_client.deny_networks,
        allow=config.http_client.allow_networks,
        own_addresses=own_addresses(configured),
    )


def key_throttle(config: CallbridgeConfig) -> FailedKeyThrottle:
    return FailedKeyThrottle(
        settings=ThrottleSettings(
            max_failures=config.http.auth_max_failures, seconds=config.http.auth_throttle_seconds
        )
    )


def http_client(config: CallbridgeConfig) -> HttpClient | ProcessHttpClient:
    timeout = config.calls.webhook_timeout
    policy = address_policy(config)
    if config.calls.http_worker:
        return ProcessHttpClient(policy=policy, timeout=timeout, log_format=config.log.format)
    return HttpClient(policy=policy, timeout=timeout)


def freeze_startup_objects() -> None:
    """Move every object alive once the server is built (modules, the app, the engine)
    out of the garbage collector's reach: they live as long as the process.  Each full
    collection otherwise walked them all again: one stopped the event loop for 86 ms
    during the outbound bench at 60 calls/s (the one seen under load with this took
    9 ms).  Objects made later are collected as before."""
    gc.collect()
    gc.freeze()


async def stored_keys(config: CallbridgeConfig) -> tuple[ApiKeyRecord, ...]:
    """The keys that authenticate now, as the database holds them (with their signing
    secrets); a configured key appears once the server has started with it."""
    database = Database(url=config.database.url)
    try:
        await database.migrate()
        return await ApiKeyRepository(database=database, clock=SystemClock()).list_active()
    finally:
        await database.close()


def list_keys(config: CallbridgeConfig) -> tuple[ApiKeyRecord, ...]:
    return asyncio.run(stored_keys(config))


def run(config: CallbridgeConfig) -> None:
    """Serve on uvloop's event loop (libuv) rather than asyncio's own: in the outbound
    bench at 50 calls/s the server took 9 % less CPU (53.7 against 59.3 % of a core over
    three interleaved runs) and answered faster.  The tests run the same code on asyncio's
    loop, and the real-server tests on this one."""
    uvloop.run(serve(config))

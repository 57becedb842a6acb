"""The SIP engine and its in-process media plane, from [sip], [media], [mwi], [[users]] and
[[trunks]]; text-to-speech for its prompts."""

from __future__ import annotations

from pathlib import Path

from callbridge.calls.extensions import ExtensionDialer
from callbridge.codecs.formats import PCMA, PCMU
from callbridge.config import CallbridgeConfig
from callbridge.engine.admission import LagReading
from callbridge.engine.engine import Engine, EngineSettings
from callbridge.engine.message_waiting import SubscriptionLimits
from callbridge.engine.routing import Trunk
from callbridge.httpclient.address_policy import parse_network
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.tts import Tts
from callbridge.sip.guesses import GuessLimits
from callbridge.sip.pike import PikeLimits
from callbridge.sip.session_timer import SessionTimerPolicy
from callbridge.sip.tcp import TcpLimits
from callbridge.wiring.startup import bind_failed

_CODECS = {"PCMU": PCMU, "PCMA": PCMA}


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
                max_requests_per_second=t.max_requests_per_second,
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


def sip_pike(config: CallbridgeConfig) -> PikeLimits | None:
    if config.sip.pike_requests == 0:
        return None
    return PikeLimits(requests=config.sip.pike_requests, window=config.sip.pike_window_seconds)


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


async def start_engine(config: CallbridgeConfig, engine: Engine) -> None:
    try:
        await engine.start()
    except OSError as exc:
        raise bind_failed("SIP", config.sip.listen, exc) from exc

"""Composition root: the only place that wires implementations together."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import uvicorn

from callbridge.api.app import create_http_app
from callbridge.config import CallbridgeConfig
from callbridge.engine.engine import Engine, EngineSettings
from callbridge.engine.pbx import ExtensionDialer
from callbridge.engine.routing import Trunk
from callbridge.media.inprocess import InProcessMediaPlane
from callbridge.media.plane import PCMA, PCMU
from callbridge.media.tts import Tts

log = logging.getLogger(__name__)

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
                name=t.name, uri=t.uri, default=t.default, username=t.username, password=t.password
            )
            for t in config.trunks
        ),
        max_server_transactions=config.sip.max_server_transactions,
    )


def build_engine(config: CallbridgeConfig) -> Engine:
    host, _ = config.sip.host_port
    plane = InProcessMediaPlane(
        host=host,
        advertised_host=config.sip.advertised_address,
        port_start=config.media.rtp_port_start,
        port_end=config.media.rtp_port_end,
        codecs=tuple(_CODECS[name] for name in config.media.codecs),
    )
    tts = Tts(cache_dir=Path(config.media.tts_cache_dir))
    engine = Engine(settings=engine_settings(config), media=plane, tts=tts)
    engine.set_incoming_handler(ExtensionDialer(engine=engine))
    return engine


async def serve(config: CallbridgeConfig) -> None:
    engine = build_engine(config)
    await engine.start()
    host, port = config.http.host_port
    log.info("SIP on %s, HTTP on %s:%d", config.sip.listen, host, port)
    server = uvicorn.Server(
        uvicorn.Config(create_http_app(engine=engine), host=host, port=port, log_level="info")
    )
    try:
        await server.serve()
    finally:
        await engine.close()


def run(config: CallbridgeConfig) -> None:
    asyncio.run(serve(config))

"""The settings of the call services (the outbound call API's and the callback API's): the
admission of new calls, the <Play> audio cache, the runner's limits, callback legs' programs."""

from __future__ import annotations

from pathlib import Path

from callbridge.callflow.limits import RunnerLimits
from callbridge.calls.admission import Admission
from callbridge.calls.audio_cache import AudioCache
from callbridge.calls.callbacks_service import CallbackSettings
from callbridge.calls.limits import CallLimiter
from callbridge.calls.overload import LoopLag, OverloadGuard
from callbridge.calls.request import Announcement
from callbridge.calls.service import CallServiceSettings
from callbridge.config import CallbridgeConfig
from callbridge.dialects.voicexml import parse_voice_xml


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


def callback_settings(config: CallbridgeConfig) -> CallbackSettings:
    text = config.calls.callback_failure_text
    if text is None:
        return CallbackSettings(node=config.calls.node)
    return CallbackSettings(node=config.calls.node, failure_announcement=Announcement(text=text))

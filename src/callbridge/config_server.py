"""The server's own sections: [sip], [http], [log], [media], [database], [calls] and
[http_client] (README, "Configuration")."""

from __future__ import annotations

import socket
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from callbridge.config_media_library import check_music_on_hold
from callbridge.config_values import Section, check_prefix, split_host_port
from callbridge.httpclient.address_policy import DEFAULT_DENY_NETWORKS, SELF, parse_network


class SipSection(Section):
    listen: str = "127.0.0.1:5060"
    advertised_address: str | None = None
    realm: str = "callbridge"
    max_server_transactions: int = Field(default=2000, ge=1)
    # Per source address, at most pike_requests new requests (in-dialog requests of live
    # calls excepted) per pike_window_seconds; 0 turns the limit off (callbridge.sip.pike).
    pike_requests: int = Field(default=100, ge=0)
    pike_window_seconds: float = Field(default=2.0, gt=0, le=3600, allow_inf_nan=False)
    # New requests (not OPTIONS, not in-dialog requests of live calls) get 503 while the
    # event loop runs this many ms late; 0 turns it off.
    overload_lag_ms: float = Field(default=300.0, ge=0, le=60_000, allow_inf_nan=False)
    # Digest guesses (callbridge.sip.guesses): after this many failures in the window from
    # one address, or for one user name, its guesses are refused unchecked for
    # auth_block_seconds, doubling at each new block up to auth_block_max_seconds.
    auth_failures_per_address: int = Field(default=10, ge=1)
    auth_failures_per_user: int = Field(default=20, ge=1)
    auth_failure_window_seconds: float = Field(default=60.0, gt=0, le=86_400, allow_inf_nan=False)
    auth_block_seconds: float = Field(default=10.0, gt=0, le=86_400, allow_inf_nan=False)
    auth_block_max_seconds: float = Field(default=600.0, gt=0, le=86_400, allow_inf_nan=False)

    # RFC 4028 session timers: the interval asked for (0: none) and the smallest accepted
    # (422 below it).  RFC 4028 requires at least 90; smaller values are for tests only.
    session_expires: int = Field(default=1800, ge=0, le=86_400)
    min_se: int = Field(default=90, ge=1, le=86_400)

    # TCP (callbridge.sip.tcp): connections accepted in all and from one source address;
    # a connection silent this long is closed (RFC 5626 CRLF pings count); a message begun
    # must be complete within tcp_read_seconds (slowloris).
    tcp_max_connections: int = Field(default=1024, ge=1, le=1_000_000)
    tcp_max_per_source: int = Field(default=32, ge=1, le=1_000_000)
    tcp_idle_seconds: float = Field(default=300.0, gt=0, le=86_400, allow_inf_nan=False)
    tcp_read_seconds: float = Field(default=10.0, gt=0, le=3600, allow_inf_nan=False)

    @model_validator(mode="after")
    def _blocks(self) -> SipSection:
        if self.auth_block_max_seconds < self.auth_block_seconds:
            raise ValueError("auth_block_max_seconds must not be below auth_block_seconds")
        return self

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        split_host_port(value, default_port=5060)
        return value

    @model_validator(mode="after")
    def _session_timer(self) -> SipSection:
        if self.session_expires and self.session_expires < self.min_se:
            raise ValueError("session_expires must be 0 (off) or at least min_se")
        return self

    @property
    def host_port(self) -> tuple[str, int]:
        return split_host_port(self.listen, default_port=5060)


class HttpSection(Section):
    listen: str = "127.0.0.1:8080"
    public_url: str | None = None  # base of RecordingURL; default http://<listen>
    # A found API key is remembered this long (0: looked up on every request).
    api_key_cache_seconds: float = Field(default=5.0, ge=0)
    # After this many wrong API keys from one address (an IPv6 /64) within
    # auth_throttle_seconds, its requests get 429 for auth_throttle_seconds; 0: never.
    auth_max_failures: int = Field(default=10, ge=0, le=1_000_000)
    auth_throttle_seconds: float = Field(default=60.0, gt=0, le=86_400, allow_inf_nan=False)
    # A request's head must arrive within header_timeout seconds (of the connection, or of
    # the response before it), its body within body_timeout of the head; else the
    # connection is closed (a late body gets 408 first).
    header_timeout: float = Field(default=10.0, gt=0, le=3600, allow_inf_nan=False)
    body_timeout: float = Field(default=10.0, gt=0, le=3600, allow_inf_nan=False)
    # GET /metrics without an API key (true; for a scraper on a private network), or only
    # with a key that has the "metrics" scope (false).
    metrics_public: bool = False

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("public_url must start with http:// or https://")
        return value

    @property
    def base_url(self) -> str:
        host, port = self.host_port
        return (self.public_url or f"http://{host}:{port}").rstrip("/")

    @property
    def host_port(self) -> tuple[str, int]:
        return split_host_port(self.listen, default_port=8080)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class LogSection(Section):
    """The server's log (callbridge.log_format): one line per record on standard error,
    readable text or one JSON object per line; ``level`` is the least severe written
    (``callbridge serve --log-level`` overrides it)."""

    format: Literal["text", "json"] = "text"
    level: str = "INFO"

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"level must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()


class MediaSection(Section):
    rtp_port_start: int = Field(default=20000, ge=1024, le=65534)
    rtp_port_end: int = Field(default=29999, ge=1025, le=65535)
    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    tts_cache_dir: str = "var/tts-cache"
    recordings_dir: str = "var/recordings"
    # An answered leg whose peer sends no RTP this long is ended (BYE); 0: never.  Not
    # while the peer holds the call (sendonly, recvonly, inactive).
    rtp_timeout: float = Field(default=60.0, ge=0, le=86_400)
    # A file or a folder (its audio files in name order), looped for callers on hold;
    # unset: the built-in piece (callbridge.media.hold_piece).
    music_on_hold: str | None = None
    # Uploaded announcements (POST /api/v2/announcements), as 8 kHz WAV files.
    announcements_dir: str = "var/announcements"

    @field_validator("music_on_hold")
    @classmethod
    def _music_on_hold(cls, value: str | None) -> str | None:
        return check_music_on_hold(value)

    @model_validator(mode="after")
    def _range(self) -> MediaSection:
        if self.rtp_port_end <= self.rtp_port_start:
            raise ValueError("rtp_port_end must be above rtp_port_start")
        unknown = set(self.codecs) - {"PCMU", "PCMA"}
        if unknown:
            raise ValueError(f"unsupported codecs: {sorted(unknown)}")
        if 0 < self.rtp_timeout < 1:
            raise ValueError("rtp_timeout must be 0 (off) or at least 1 second")
        return self


class DatabaseSection(Section):
    url: str = "sqlite+aiosqlite:///callbridge.db"


class CallsSection(Section):
    # The name this server's calls carry in the database: after a crash, the calls still
    # open under this name are closed (and their completed callbacks sent) at start-up.
    # Every node of a cluster needs its own, stable name.
    node: str = Field(default_factory=socket.gethostname, min_length=1, max_length=100)
    audio_cache_dir: str = "var/audio-cache"
    # A <Play> URL is fetched again once its decoded copy is this old (a copy that cannot
    # be refreshed still plays); the copies together stay under audio_cache_mb.
    audio_cache_seconds: float = Field(default=300.0, ge=0)
    audio_cache_mb: float = Field(default=256.0, gt=0)
    webhook_timeout: float = Field(default=10.0, gt=0, le=120)
    # Outgoing HTTP (webhooks, voice documents, <Play> audio) is made by a child process,
    # on another core (callbridge.httpclient.process); false: by the server's own process.
    http_worker: bool = True
    # What an answered callback leg hears when the other leg cannot be connected (a
    # request's failure_announce overrides it); unset: the built-in sentence.
    callback_failure_text: str | None = Field(default=None, min_length=1, max_length=1000)
    # New calls (every API) are refused with 503 while the event loop runs this many ms
    # late (callbridge.calls.overload); 0 turns the guard off.
    overload_lag_ms: float = Field(default=200.0, ge=0, le=60_000)
    # On SIGTERM/SIGINT new calls are refused (SIP 503, HTTP 503 + Retry-After) and live
    # calls may go on this long; then every one is hung up (callbridge.calls.live).
    drain_seconds: float = Field(default=30.0, ge=0, le=86_400)
    # Any call the API lists is ended (with this cause) once it has lasted this long.
    max_duration: float = Field(default=14_400.0, gt=0, le=7 * 86_400)
    # Documents a call's application may fetch (<Redirect>, actions), in all and per
    # minute; past either the call ends as failed (callbridge.callflow.runner).
    max_document_fetches: int = Field(default=500, ge=1, le=1_000_000)
    max_document_fetches_per_minute: int = Field(default=30, ge=1, le=10_000)
    # Numbers no API key may call (prefixes; callbridge.calls.destination_policy): unset,
    # the built-in emergency and premium-rate list; [] turns it off.
    denied_prefixes: tuple[str, ...] | None = None

    @field_validator("denied_prefixes")
    @classmethod
    def _denied(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else tuple(check_prefix(each) for each in value)


class HttpClientSection(Section):
    """Where outgoing HTTP (customers' URLs: documents, audio, status callbacks) may go
    (callbridge.httpclient.address_policy): an address in ``deny_networks`` is refused
    unless ``allow_networks`` holds it.  ``"self"`` is the server's own addresses."""

    deny_networks: tuple[str, ...] = DEFAULT_DENY_NETWORKS
    allow_networks: tuple[str, ...] = ()

    @field_validator("deny_networks", "allow_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        for entry in value:
            if entry == SELF and info.field_name == "deny_networks":
                continue
            parse_network(entry)
        return value

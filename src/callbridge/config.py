"""The one TOML configuration file, validated into frozen pydantic models.

Every key is documented in README.md ("Configuration").
"""

from __future__ import annotations

import re
import socket
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from callbridge.calls.inbound.number_match import normalized_number
from callbridge.config_control import (
    MAX_CONTROL_RETRIES,
    check_backup,
    check_control_url,
    check_identifier,
)
from callbridge.config_media_library import (
    AnnouncementSection,
    check_music_on_hold,
    check_unique_announcements,
)
from callbridge.config_mwi import MwiSection
from callbridge.config_pbx import ContextSection, OriginateUserSection, ProjectSection, check_pbx
from callbridge.config_queues import QueueSection, check_queues
from callbridge.config_voicemail import MailboxSection, SmtpSection, check_mailboxes
from callbridge.httpclient.address_policy import DEFAULT_DENY_NETWORKS, SELF, parse_network


class ConfigError(Exception):
    """The configuration file is missing, not TOML, or fails validation."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def split_host_port(value: str, *, default_port: int) -> tuple[str, int]:
    """``"127.0.0.1:5060"`` → ``("127.0.0.1", 5060)``; a bare host takes ``default_port``."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = value.rpartition(":") if ":" in value else (value, "", "")
    if not host:
        raise ValueError(f"no host in {value!r}")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad port in {value!r}")
    return host, int(port_text)


class SipSection(_Section):
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


class HttpSection(_Section):
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


class LogSection(_Section):
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


class MediaSection(_Section):
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


class DatabaseSection(_Section):
    url: str = "sqlite+aiosqlite:///callbridge.db"


class CallsSection(_Section):
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
        return None if value is None else tuple(_check_prefix(each) for each in value)


class HttpClientSection(_Section):
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


class TrunkSection(_Section):
    name: str
    uri: str
    default: bool = False
    username: str | None = None
    password: str | None = None
    # Where this carrier's calls come from (addresses or networks); unset: the host of uri
    # (an IP address; a host name must list its addresses here).  An INVITE from one of
    # them is a call from the trunk: routed by [[numbers]], never digest-challenged.
    inbound_addresses: tuple[str, ...] | None = None

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        if not value.startswith(("sip:", "sips:")):
            raise ValueError("trunk uri must start with sip:")
        return value

    @field_validator("inbound_addresses")
    @classmethod
    def _inbound(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for entry in value or ():
            parse_network(entry)
        return value


class UserSection(_Section):
    extension: str
    password: str
    name: str | None = None
    project: int | None = None  # the [[projects]] id it belongs to; None: every project

    @field_validator("extension")
    @classmethod
    def _extension(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c in "._-" for c in value):
            raise ValueError("extension must be letters, digits, '.', '_' or '-'")
        return value


NUMBER_PREFIX = re.compile(r"\+?[0-9]{1,32}")
CALLER_ID = re.compile(r"\+?[A-Za-z0-9._-]{1,64}\*?")


def _check_prefix(value: str) -> str:
    if not NUMBER_PREFIX.fullmatch(value):
        raise ValueError(f"{value[:40]!r} must be a number prefix: digits, optional leading +")
    return value


# "call": the call APIs; "metrics": GET /metrics (unless [http] metrics_public).
API_KEY_SCOPES = ("call", "metrics")
DEFAULT_SCOPES = ("call",)
MIN_SECRET_CHARS = 16


class ApiKeySection(_Section):
    """A key the HTTP APIs accept (sent as the ``apikey`` header or field); the database
    keeps only its SHA-256, under an id that stays the same across restarts."""

    key: str = Field(min_length=MIN_SECRET_CHARS, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    calls_per_second: float | None = Field(default=None, gt=0, le=10_000, allow_inf_nan=False)
    max_concurrent: int | None = Field(default=None, ge=1)
    signing_secret: str | None = Field(default=None, min_length=MIN_SECRET_CHARS, max_length=200)
    # Toll-fraud guards (callbridge.calls.destination_policy); unset lists allow anything.
    allowed_destinations: tuple[str, ...] | None = None
    allow_sip_uris: bool = False
    allowed_trunks: tuple[str, ...] | None = None
    caller_ids: tuple[str, ...] | None = None

    @field_validator("allowed_destinations")
    @classmethod
    def _prefixes(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else tuple(_check_prefix(each) for each in value)

    @field_validator("caller_ids")
    @classmethod
    def _caller_ids(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for each in value or ():
            if not CALLER_ID.fullmatch(each):
                raise ValueError(
                    f"{each[:40]!r} must be a number or extension, optionally ending in *"
                )
        return value

    @field_validator("key", "signing_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None and (not value.isascii() or not value.isprintable() or " " in value):
            raise ValueError("must be printable ASCII without spaces")
        return value

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(API_KEY_SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes {unknown}; known: {list(API_KEY_SCOPES)}")
        if len(set(value)) != len(value):
            raise ValueError("scopes must not repeat")
        return value


LINE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
PHONE_NUMBER = re.compile(r"\+?[0-9]{1,32}")
MAX_LINE_SECONDS = 600.0


def _check_external(value: str) -> str:
    """A phone number (digits, optional leading ``+``) or a ``sip:``/``sips:`` URI."""
    is_uri = value.lower().startswith(("sip:", "sips:")) and len(value) > 4
    if not (is_uri or PHONE_NUMBER.fullmatch(value)) or any(c.isspace() for c in value):
        raise ValueError(f"{value[:64]!r} must be a phone number (e.g. +15550100) or a sip: URI")
    return value


class LineSection(_Section):
    """A line (seed-003): rings ``users`` and ``numbers`` at once for ``ring_timeout``
    seconds, then ``forward_to`` for ``forward_timeout``; ``number`` is the caller ID a client
    sees when the line calls out; ``api_keys`` names the keys that may use it (empty: all)."""

    id: str
    name: str | None = Field(default=None, min_length=1, max_length=200)
    users: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    ring_timeout: float = Field(default=20.0, gt=0, le=MAX_LINE_SECONDS, allow_inf_nan=False)
    forward_to: str | None = None
    forward_timeout: float = Field(default=30.0, gt=0, le=MAX_LINE_SECONDS, allow_inf_nan=False)
    number: str | None = None
    api_keys: tuple[str, ...] = ()

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not LINE_ID.fullmatch(value):
            raise ValueError("line id must be 1 to 64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("numbers")
    @classmethod
    def _numbers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_external(each) for each in value)

    @field_validator("forward_to", "number")
    @classmethod
    def _external(cls, value: str | None) -> str | None:
        return None if value is None else _check_external(value)

    @model_validator(mode="after")
    def _rings_someone(self) -> LineSection:
        if not (self.users or self.numbers or self.forward_to):
            raise ValueError(f"line {self.id!r} needs users, numbers or forward_to")
        return self

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def external_numbers(self) -> tuple[str, ...]:
        """The numbers it dials through the default trunk (not SIP URIs)."""
        targets = (*self.numbers, *((self.forward_to,) if self.forward_to else ()))
        return tuple(t for t in targets if not t.lower().startswith(("sip:", "sips:")))


CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")


def _check_app_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError(f"{value[:64]!r} must be an http:// or https:// URL")
    return value


class NumberSection(_Section):
    """A number calls from trunks reach (matched as callbridge.calls.inbound.number_match
    says), routed to exactly one of: a voice application (``voice_url``), a ``user``, a
    ``line`` or ``forward_to`` (a number or SIP URI)."""

    number: str
    voice_url: str | None = None
    voice_method: str = "POST"
    user: str | None = None
    line: str | None = None
    forward_to: str | None = None
    queue: str | None = None  # a [[queues]] id: callers wait in it
    status_callback: str | None = None
    status_callback_event: str = "completed"
    api_key: str | None = None  # an [[api_keys]] name: signs, and may see, these calls
    # Call control and notify (seed-004; callbridge.config_control validates them).
    control_url: str | None = None
    control_retries: int = Field(default=3, ge=0, le=MAX_CONTROL_RETRIES)
    control_timeout: float = Field(default=3.0, ge=0.5, le=30.0)
    notify_url: str | None = None
    announcement: str | None = None
    backup: str | None = None
    mailbox: str | None = None  # a [[mailboxes]] id: its voicemail (alone: the route)
    record: bool = False  # each call recorded from its answer, published as record=true's

    @field_validator("control_url", "notify_url")
    @classmethod
    def _control_urls(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_control_url(value, str(info.field_name))

    @field_validator("announcement", "mailbox")
    @classmethod
    def _ids(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_identifier(value, str(info.field_name))

    @field_validator("backup")
    @classmethod
    def _backup(cls, value: str | None) -> str | None:
        return check_backup(value)

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        if normalized_number(value) is None:
            raise ValueError(f"{value[:40]!r} must be a phone number (e.g. +15550199)")
        return value

    @field_validator("voice_url", "status_callback")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _check_app_url(value)

    @field_validator("voice_method")
    @classmethod
    def _method(cls, value: str) -> str:
        if value.upper() not in ("GET", "POST"):
            raise ValueError("voice_method must be GET or POST")
        return value.upper()

    @field_validator("forward_to")
    @classmethod
    def _forward(cls, value: str | None) -> str | None:
        return None if value is None else _check_external(value)

    @field_validator("status_callback_event")
    @classmethod
    def _events(cls, value: str) -> str:
        unknown = sorted(set(value.split()) - set(CALLBACK_EVENTS))
        if unknown or not value.split():
            raise ValueError(f"status_callback_event takes some of {' '.join(CALLBACK_EVENTS)}")
        return value

    @model_validator(mode="after")
    def _one_route(self) -> NumberSection:
        routes = [
            r
            for r in (
                self.voice_url,
                self.user,
                self.line,
                self.forward_to,
                self.queue,
                self.control_url,
            )
            if r
        ]
        if len(routes) > 1 or not (routes or self.mailbox):
            raise ValueError(
                f"number {self.number!r} needs exactly one of voice_url, user, line, "
                "forward_to, queue, control_url (or only a mailbox)"
            )
        if self.notify_url and not self.control_url:
            raise ValueError(f"number {self.number!r}: notify_url needs control_url")
        if self.voice_url and self.api_key is None:
            raise ValueError(f"number {self.number!r}: a voice_url needs an api_key")
        return self

    @property
    def normalized(self) -> str:
        return normalized_number(self.number) or ""


class CallbridgeConfig(_Section):
    # Errors name the bad key and why, never its value: api_keys hold secrets.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    sip: SipSection = SipSection()
    http: HttpSection = HttpSection()
    media: MediaSection = MediaSection()
    database: DatabaseSection = DatabaseSection()
    calls: CallsSection = CallsSection()
    http_client: HttpClientSection = HttpClientSection()
    log: LogSection = LogSection()
    mwi: MwiSection = MwiSection()
    trunks: tuple[TrunkSection, ...] = ()
    users: tuple[UserSection, ...] = ()
    api_keys: tuple[ApiKeySection, ...] = ()
    lines: tuple[LineSection, ...] = ()
    numbers: tuple[NumberSection, ...] = ()
    queues: tuple[QueueSection, ...] = ()
    mailboxes: tuple[MailboxSection, ...] = ()
    smtp: SmtpSection = SmtpSection()
    announcements: tuple[AnnouncementSection, ...] = ()

    @model_validator(mode="after")
    def _announcements(self) -> CallbridgeConfig:
        check_unique_announcements(self.announcements)
        return self

    projects: tuple[ProjectSection, ...] = ()
    originate_users: tuple[OriginateUserSection, ...] = ()
    contexts: tuple[ContextSection, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> CallbridgeConfig:
        if sum(t.default for t in self.trunks) > 1:
            raise ValueError("at most one trunk may be default")
        extensions = [u.extension for u in self.users]
        if len(set(extensions)) != len(extensions):
            raise ValueError("user extensions must be unique")
        names = [t.name for t in self.trunks]
        if len(set(names)) != len(names):
            raise ValueError("trunk names must be unique")
        keys = [k.key for k in self.api_keys]
        if len(set(keys)) != len(keys):
            raise ValueError("api_keys keys must be unique")
        key_names = [k.name for k in self.api_keys]
        if len(set(key_names)) != len(key_names):
            raise ValueError("api_keys names must be unique")
        for key in self.api_keys:
            unknown = sorted(set(key.allowed_trunks or ()) - set(names))
            if unknown:
                raise ValueError(
                    f"api key {key.name!r}: allowed_trunks {unknown} are not [[trunks]] names"
                )
        return self

    @model_validator(mode="after")
    def _lines(self) -> CallbridgeConfig:
        ids = [line.id for line in self.lines]
        if len(set(ids)) != len(ids):
            raise ValueError("line ids must be unique")
        extensions = {u.extension for u in self.users}
        key_names = {k.name for k in self.api_keys}
        for line in self.lines:
            unknown_users = [u for u in line.users if u not in extensions]
            if unknown_users:
                raise ValueError(
                    f"line {line.id!r}: users {unknown_users} are not [[users]] extensions"
                )
            unknown_keys = [k for k in line.api_keys if k not in key_names]
            if unknown_keys:
                raise ValueError(
                    f"line {line.id!r}: api_keys {unknown_keys} are not [[api_keys]] names"
                )
            if line.external_numbers and self.default_trunk is None:
                raise ValueError(
                    f"line {line.id!r} dials numbers: that needs a [[trunks]] with default = true"
                )
        return self

    @model_validator(mode="after")
    def _numbers(self) -> CallbridgeConfig:
        seen: set[str] = set()
        extensions = {u.extension for u in self.users}
        lines = {line.id for line in self.lines}
        key_names = {k.name for k in self.api_keys}
        for number in self.numbers:
            name = f"number {number.number!r}"
            if number.normalized in seen:
                raise ValueError(f"{name} is configured twice (after removing + and separators)")
            seen.add(number.normalized)
            if number.user is not None and number.user not in extensions:
                raise ValueError(f"{name}: user {number.user!r} is not a [[users]] extension")
            if number.line is not None and number.line not in lines:
                raise ValueError(f"{name}: line {number.line!r} is not a [[lines]] id")
            if number.queue is not None and number.queue not in {q.id for q in self.queues}:
                raise ValueError(f"{name}: queue {number.queue!r} is not a [[queues]] id")
            if number.api_key is not None and number.api_key not in key_names:
                raise ValueError(f"{name}: api_key {number.api_key!r} is not an [[api_keys]] name")
            forward = number.forward_to
            if forward and not forward.lower().startswith("sip") and self.default_trunk is None:
                raise ValueError(f"{name} forwards to a number: that needs a default [[trunks]]")
        return self

    @model_validator(mode="after")
    def _queues(self) -> CallbridgeConfig:
        check_queues(self.queues, {u.extension for u in self.users})
        return self

    @model_validator(mode="after")
    def _pbx(self) -> CallbridgeConfig:
        check_pbx(
            projects=self.projects,
            originate_users=self.originate_users,
            contexts=self.contexts,
            user_projects=((u.extension, u.project) for u in self.users),
            api_key_names=(k.name for k in self.api_keys),
        )
        return self

    @model_validator(mode="after")
    def _mailboxes(self) -> CallbridgeConfig:
        check_mailboxes(
            self.mailboxes,
            extensions={u.extension for u in self.users},
            key_names={k.name for k in self.api_keys},
            number_mailboxes=[n.mailbox for n in self.numbers if n.mailbox is not None],
        )
        return self

    @property
    def default_trunk(self) -> TrunkSection | None:
        return next((t for t in self.trunks if t.default), None)


def load_config(path: Path) -> CallbridgeConfig:
    """Read and validate a TOML configuration file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    try:
        return CallbridgeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from exc

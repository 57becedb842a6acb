"""Who may use the server: [[trunks]] (carriers), [[users]] (phones' SIP accounts) and
[[api_keys]] (the HTTP APIs' keys, their limits and toll-fraud guards)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from callbridge.config_values import Section, check_prefix
from callbridge.httpclient.address_policy import parse_network


class TrunkSection(Section):
    name: str
    uri: str
    default: bool = False
    username: str | None = None
    password: str | None = None
    # Where this carrier's calls come from (addresses or networks); unset: the host of uri
    # (an IP address; a host name must list its addresses here).  An INVITE from one of
    # them is a call from the trunk: routed by [[numbers]], never digest-challenged.
    inbound_addresses: tuple[str, ...] | None = None
    # Requests from inbound_addresses are not counted by [sip] pike_requests (a carrier
    # sends every caller's calls); this limit over all of them applies instead, 0: none.
    max_requests_per_second: int = Field(default=0, ge=0, le=1_000_000)

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


class UserSection(Section):
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


CALLER_ID = re.compile(r"\+?[A-Za-z0-9._-]{1,64}\*?")


# "call": the call APIs; "metrics": GET /metrics (unless [http] metrics_public).
API_KEY_SCOPES = ("call", "metrics")


DEFAULT_SCOPES = ("call",)


MIN_SECRET_CHARS = 16


class ApiKeySection(Section):
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
        return None if value is None else tuple(check_prefix(each) for each in value)

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

"""What every configuration section shares: the frozen model that forbids unknown keys, and
the checks of values several sections hold (a listen address, a number prefix, a number or
SIP URI to call)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
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


NUMBER_PREFIX = re.compile(r"\+?[0-9]{1,32}")


PHONE_NUMBER = re.compile(r"\+?[0-9]{1,32}")


def check_prefix(value: str) -> str:
    if not NUMBER_PREFIX.fullmatch(value):
        raise ValueError(f"{value[:40]!r} must be a number prefix: digits, optional leading +")
    return value


def check_external(value: str) -> str:
    """A phone number (digits, optional leading ``+``) or a ``sip:``/``sips:`` URI."""
    is_uri = value.lower().startswith(("sip:", "sips:")) and len(value) > 4
    if not (is_uri or PHONE_NUMBER.fullmatch(value)) or any(c.isspace() for c in value):
        raise ValueError(f"{value[:64]!r} must be a phone number (e.g. +15550100) or a sip: URI")
    return value

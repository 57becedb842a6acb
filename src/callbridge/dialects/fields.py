"""Request fields of the HTTP APIs: form or JSON bodies and query strings, read into one
case-insensitive multi-map, and the checks the API dialects share.

Names are compared case-insensitively (``sendDigits`` is ``senddigits`` is ``SENDDIGITS``)
and a name may repeat; every value is kept in the order given.  Pure: no I/O.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from callbridge.dialects.errors import InvalidRequest

MAX_FIELDS = 200
MAX_URL_CHARS = 2048
MAX_ADDRESS_CHARS = 200

NUMBER = re.compile(r"\+?[0-9]{1,32}")
EXTENSION = re.compile(r"[A-Za-z0-9._-]{1,64}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"(?:\[[0-9A-Fa-f:.]+\]|{_LABEL}(?:\.{_LABEL})*\.?)"
_USER = r"[A-Za-z0-9\-_.!~*'()%&=+$,;?/]+"
_PARAMS = r"[A-Za-z0-9\-_.!~*'()%&=+$,;:\[\]/]*"
_PORT = r"(?::(?P<port>[0-9]{1,5}))?"
SIP_URI = re.compile(rf"sips?:(?:{_USER}@)?{_HOST}{_PORT}(?:;{_PARAMS})?", re.IGNORECASE)

T = TypeVar("T")


@dataclass(frozen=True)
class Fields:
    """Field values by lower-cased name, in the order given."""

    values: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> Fields:
        collected: dict[str, list[str]] = {}
        for count, (name, value) in enumerate(pairs, start=1):
            if count > MAX_FIELDS:
                raise InvalidRequest(f"more than {MAX_FIELDS} fields")
            collected.setdefault(name.lower(), []).append(value)
        return cls(MappingProxyType({name: tuple(vs) for name, vs in collected.items()}))

    @classmethod
    def from_form(cls, body: bytes) -> Fields:
        """An ``application/x-www-form-urlencoded`` body (or query string), UTF-8."""
        try:
            text = body.decode("utf-8")
            pairs = parse_qsl(
                text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS
            )
        except UnicodeDecodeError as exc:
            raise InvalidRequest("the form body is not UTF-8") from exc
        except ValueError as exc:
            raise InvalidRequest(f"more than {MAX_FIELDS} fields") from exc
        return cls.of(pairs)

    @classmethod
    def from_json(cls, body: bytes) -> Fields:
        """A JSON object: a string, number or boolean per field, or a list of them."""
        try:
            document = json.loads(body, object_pairs_hook=_Pairs, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            raise InvalidRequest("the body is not valid JSON") from exc
        if not isinstance(document, _Pairs):
            raise InvalidRequest("the JSON body must be an object")
        pairs: list[tuple[str, str]] = []
        errors: dict[str, str] = {}
        for name, value in document:
            is_list = isinstance(value, list) and not isinstance(value, _Pairs)
            items = value if is_list else [value]
            for item in items:
                if isinstance(item, bool):
                    pairs.append((name, "true" if item else "false"))
                elif isinstance(item, str | int | float):
                    pairs.append((name, str(item)))
                elif item is not None:
                    errors[name] = "must be a string, a number, a boolean or a list of them"
        if errors:
            raise InvalidRequest("the JSON body has values of the wrong type", fields=errors)
        return cls.of(pairs)

    def get(self, *names: str) -> tuple[str, ...]:
        """Every value given under any of ``names``."""
        return tuple(v for name in names for v in self.values.get(name.lower(), ()))


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its (name, value) pairs, repeated names kept."""


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


class FieldReader:
    """Reads fields one by one, collecting a message per refused field, so one response
    names every problem."""

    def __init__(self, fields: Fields) -> None:
        self._fields = fields
        self.errors: dict[str, str] = {}
        self.warnings: dict[str, str] = {}

    def given(self, *names: str) -> bool:
        return any(v.strip() for v in self._fields.get(*names))

    def text(self, label: str, *aliases: str, required: str | None = None) -> str | None:
        """The one value of a field (blank counts as absent); ``required`` is the message
        when it is missing."""
        values = [v.strip() for v in self._fields.get(label, *aliases) if v.strip()]
        if not values:
            if required is not None:
                self.fail(label, required)
            return None
        if len(set(values)) > 1:
            self.fail(label, "give it once (different values were given)")
            return None
        value = values[0]
        if any(unicodedata.category(c) == "Cc" for c in value):
            self.fail(label, "must not contain control characters")
            return None
        return value

    def checked(
        self, label: str, check: Callable[[str], T], *aliases: str, required: str | None = None
    ) -> T | None:
        """The one value of a field passed through ``check`` (which raises ``ValueError``
        with the message), or ``None`` when absent or refused."""
        value = self.text(label, *aliases, required=required)
        if value is None:
            return None
        try:
            return check(value)
        except ValueError as exc:
            self.fail(label, str(exc))
            return None

    def all_values(self, *names: str) -> tuple[str, ...]:
        return tuple(v for v in self._fields.get(*names) if v.strip())

    def fail(self, label: str, message: str) -> None:
        self.errors.setdefault(label, message)

    def warn(self, label: str, message: str) -> None:
        self.warnings.setdefault(label, message)

    def names(self) -> tuple[str, ...]:
        """The (lower-cased) names given."""
        return tuple(self._fields.values)

    def raise_if_failed(self, message: str) -> None:
        if self.errors:
            raise InvalidRequest(message, fields=self.errors)


def check_address(value: str) -> str:
    """A number (``+`` and digits), an extension (letters, digits, ``.``, ``_``, ``-``) or a
    SIP URI."""
    if len(value) > MAX_ADDRESS_CHARS:
        raise ValueError(f"must be at most {MAX_ADDRESS_CHARS} characters")
    if value.lower().startswith(("sip:", "sips:")):
        match = SIP_URI.fullmatch(value)
        if match is None or not 0 < int(match["port"] or 5060) < 65536:
            raise ValueError("is not a valid SIP URI (e.g. sip:alice@example.com)")
        return value
    if NUMBER.fullmatch(value) or EXTENSION.fullmatch(value):
        return value
    raise ValueError(
        "must be a number (digits with an optional leading +, e.g. +19499300360), "
        "an extension (e.g. 1001) or a SIP URI (e.g. sip:alice@example.com)"
    )


def check_http_url(value: str) -> str:
    """An absolute ``http`` or ``https`` URL."""
    if len(value) > MAX_URL_CHARS:
        raise ValueError(f"must be at most {MAX_URL_CHARS} characters")
    if any(c.isspace() for c in value):
        raise ValueError("must not contain spaces (percent-encode them)")
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or not port_ok:
        raise ValueError("must be an absolute http or https URL")
    return value


def check_method(value: str) -> str:
    method = value.upper()
    if method not in ("GET", "POST"):
        raise ValueError("must be GET or POST")
    return method


def check_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise ValueError("must be true or false")
    return lowered == "true"


def check_length(limit: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
        return value

    return check


def check_int(low: int, high: int) -> Callable[[str], int]:
    def check(value: str) -> int:
        digits = value.isascii() and value.isdigit() and len(value) <= 9
        if not digits or not low <= int(value) <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return int(value)

    return check

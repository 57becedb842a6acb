"""Nested JSON request bodies (the callback API's legs): read into objects whose members
are found by folded name, checked one by one with every refusal collected.

A member name is folded (lower case, ``_`` and ``-`` dropped) and looked up in the
object's table of accepted names, so ``leg_A``, ``legA`` and ``LEG-A`` are one field;
repeated names are refused, unknown ones collected as warnings (the request goes on
without them).  Refusals are labelled with the documented name
and its path (``leg_B.timeout``).  Pure: no I/O.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from callbridge.dialects.accepted import warn_unknown
from callbridge.dialects.errors import InvalidRequest
from callbridge.dialects.fields import Fields

T = TypeVar("T")


class JsonPairs(list[tuple[str, Any]]):
    """A JSON object as its (name, value) pairs, repeated names kept."""


@dataclass(frozen=True)
class JsonDocument:
    """A request body that is a JSON object, not yet checked."""

    pairs: tuple[tuple[str, Any], ...]

    def scalar_fields(self) -> Fields:
        """Its top-level string members (e.g. the ``apikey`` field of authentication)."""
        return Fields.of((name, value) for name, value in self.pairs if isinstance(value, str))


def read_json_object(body: bytes, *, expected: str = "an object") -> JsonDocument:
    """The JSON object of a request body; raises ``InvalidRequest`` (``expected`` says
    what the object should look like)."""
    try:
        document = json.loads(body, object_pairs_hook=JsonPairs, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest("the body is not valid JSON") from exc
    if not isinstance(document, JsonPairs):
        raise InvalidRequest(f"the JSON body must be {expected}")
    return JsonDocument(tuple(document))


def fold(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


class ObjectReader:
    """Reads one JSON object's members; nested readers share the refusals and warnings of
    their parent.

    ``names`` maps each accepted folded name to the documented one."""

    def __init__(
        self,
        pairs: tuple[tuple[str, Any], ...] | list[tuple[str, Any]],
        *,
        names: Mapping[str, str],
        prefix: str = "",
        errors: dict[str, str] | None = None,
        warnings: dict[str, str] | None = None,
    ) -> None:
        self.errors: dict[str, str] = {} if errors is None else errors
        self.warnings: dict[str, str] = {} if warnings is None else warnings
        self._prefix = prefix
        self._values: dict[str, Any] = {}
        unknown: list[str] = []
        for raw, value in pairs:
            name = names.get(fold(raw))
            if name is None:
                unknown.append(raw)
            elif name in self._values:
                self.fail(name, "give it once")
            else:
                self._values[name] = value
        warn_unknown(self.warnings, unknown, (), prefix=prefix)

    def label(self, name: str) -> str:
        return self._prefix + name

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(self.label(name), message)

    def warn(self, name: str, message: str) -> None:
        self.warnings.setdefault(self.label(name), message)

    def given(self, name: str) -> bool:
        """Whether the member is there (``null`` and blank strings are not)."""
        return self.raw(name) is not None

    def raw(self, name: str) -> Any:
        """The member as JSON gave it; ``null`` and blank strings are ``None``."""
        value = self._values.get(name)
        return None if isinstance(value, str) and not value.strip() else value

    def text(self, name: str, *, required: str | None = None) -> str | None:
        """A string (or whole number) member, stripped; ``required`` is the message when it
        is missing."""
        value = self.raw(name)
        if value is None:
            if required is not None:
                self.fail(name, required)
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.fail(name, "must be a string")
            return None
        value = value.strip()
        if any(unicodedata.category(c) == "Cc" for c in value):
            self.fail(name, "must not contain control characters")
            return None
        return value

    def checked(
        self, name: str, check: Callable[[str], T], *, required: str | None = None
    ) -> T | None:
        """The member passed through ``check`` (which raises ``ValueError`` with the
        message), or ``None`` when absent or refused."""
        value = self.text(name, required=required)
        if value is None:
            return None
        try:
            return check(value)
        except ValueError as exc:
            self.fail(name, str(exc))
            return None

    def nested(self, name: str, names: Mapping[str, str]) -> ObjectReader | None:
        """The object member ``name`` as a reader of its own (``None`` when absent or not an
        object, which is refused)."""
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, JsonPairs):
            self.fail(name, "must be a JSON object")
            return None
        return ObjectReader(
            value,
            names=names,
            prefix=f"{self.label(name)}.",
            errors=self.errors,
            warnings=self.warnings,
        )

    def raise_if_failed(self, message: str) -> None:
        if self.errors:
            raise InvalidRequest(message, fields=self.errors)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")

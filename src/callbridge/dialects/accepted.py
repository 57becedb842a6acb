"""A request the API accepted, with what it has to say about it.

One rule for every API: a field the API does not know, or an option that has no effect
as given (``secretKey`` without ``statusCallback``), is not a refusal; the reply lists it
under ``warnings`` so the client can see it was ignored.  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_WARNINGS = 20
MAX_NAME_CHARS = 64


@dataclass(frozen=True)
class Accepted(Generic[T]):
    """``value`` as parsed, and a message per field that had no effect."""

    value: T
    warnings: Mapping[str, str]


def accepted(value: T, warnings: Mapping[str, str]) -> Accepted[T]:
    return Accepted(value, MappingProxyType(dict(warnings)))


def warnings_json(warnings: Mapping[str, str]) -> list[dict[str, str]]:
    """The reply's ``warnings``: ``[{"field": ..., "message": ...}]``."""
    return [{"field": name, "message": message} for name, message in warnings.items()]


def warn_unknown(
    warnings: dict[str, str], given: Iterable[str], known: Iterable[str], *, prefix: str = ""
) -> None:
    """Add a warning for each name in ``given`` that is not in ``known`` (both as the
    caller compares them), at most :data:`MAX_WARNINGS` in all."""
    known_names = frozenset(known)
    for name in given:
        if name in known_names:
            continue
        if len(warnings) >= MAX_WARNINGS:
            return
        warnings.setdefault(
            prefix + name[:MAX_NAME_CHARS], "is not a field of this API and was ignored"
        )

"""Domain errors of the dialects."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from callbridge.callflow.errors import InvalidProgram


class DialectError(InvalidProgram):
    """A document in an external dialect could not be translated into a program."""


class InvalidDocument(DialectError):
    """The document is refused: too large, not XML, DTDs/entities, or not valid in the dialect."""


class InvalidRequest(Exception):
    """An API request's fields are refused.

    ``fields`` maps each refused field (named as the API documents it) to why; it is empty
    when the request as a whole is refused (not form or JSON, not UTF-8, ...)."""

    def __init__(self, message: str, *, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields: Mapping[str, str] = MappingProxyType(dict(fields or {}))

"""Domain errors of the dialects."""

from __future__ import annotations

from callbridge.callflow.errors import InvalidProgram


class DialectError(InvalidProgram):
    """A document in an external dialect could not be translated into a program."""


class InvalidDocument(DialectError):
    """The document is refused: too large, not XML, DTDs/entities, or not valid in the dialect."""

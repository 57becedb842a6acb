"""Domain errors of the call-flow layer."""

from __future__ import annotations


class CallflowError(Exception):
    """Base of every call-flow error."""


class InvalidVerb(CallflowError):
    """A verb was built with values that make no sense (negative lengths, bad digits, ...)."""


class InvalidProgram(CallflowError):
    """A document could not be translated into a program (dialects raise subclasses)."""


class FetchError(CallflowError):
    """An application URL (document or audio) could not be fetched."""

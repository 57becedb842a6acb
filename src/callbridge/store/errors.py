"""Domain errors raised by the store."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every store error."""


class CallNotFound(StoreError):
    """No call has the given sid."""


class DuplicateCall(StoreError):
    """A call with this sid already exists."""


class InvalidCursor(StoreError):
    """A paging cursor could not be decoded."""


class RecordingNotFound(StoreError):
    """No recording has the given id."""

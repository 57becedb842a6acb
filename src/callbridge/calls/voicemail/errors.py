"""What the voicemail service refuses (the API maps these to HTTP in one place)."""

from __future__ import annotations


class UnknownMailbox(LookupError):
    """No ``[[mailboxes]]`` has this id."""


class VoicemailNotFound(LookupError):
    """No message has this id (or the asker may not see it)."""

"""Voicemail: mailboxes, leaving a message, storing it, and mailing it."""

from callbridge.calls.voicemail.errors import UnknownMailbox, VoicemailNotFound
from callbridge.calls.voicemail.mailbox import Mailbox
from callbridge.calls.voicemail.service import (
    Announcements,
    MessageWaitingNotifier,
    Voicemail,
)

__all__ = [
    "Announcements",
    "Mailbox",
    "MessageWaitingNotifier",
    "UnknownMailbox",
    "Voicemail",
    "VoicemailNotFound",
]

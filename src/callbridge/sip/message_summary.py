"""The message-summary event package's body (RFC 3842 §5): ``application/simple-message-summary``.

    Messages-Waiting: yes
    Message-Account: sip:1001@pbx.example.com
    Voice-Message: 2/8

Built by the notifier from a mailbox's counts; :func:`parse_message_summary` reads one back
(pure, for tests and for anything that receives MWI).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONTENT_TYPE = "application/simple-message-summary"
EVENT_PACKAGE = "message-summary"
_VOICE = re.compile(r"^(\d{1,9})/(\d{1,9})(?:\s*\((\d{1,9})/(\d{1,9})\))?$")


class MessageSummaryError(ValueError):
    """A body that is not a simple-message-summary."""


@dataclass(frozen=True, kw_only=True)
class MessageSummary:
    """Voice messages of one account: ``new`` not yet heard, ``old`` heard and kept."""

    account: str
    new: int
    old: int

    def __post_init__(self) -> None:
        if self.new < 0 or self.old < 0:
            raise ValueError("message counts cannot be negative")
        if any(c in self.account for c in "\r\n"):
            raise ValueError("the account URI cannot hold a line break")

    @property
    def waiting(self) -> bool:
        """RFC 3842 §5.2: messages are waiting while any is new."""
        return self.new > 0

    def body(self) -> bytes:
        lines = (
            f"Messages-Waiting: {'yes' if self.waiting else 'no'}",
            f"Message-Account: {self.account}",
            f"Voice-Message: {self.new}/{self.old}",
        )
        return ("\r\n".join(lines) + "\r\n").encode("ascii", errors="strict")


def parse_message_summary(body: bytes | str) -> MessageSummary:
    """Read a simple-message-summary (the voice counts; other message classes are ignored).

    Raises :class:`MessageSummaryError` when ``Messages-Waiting`` is missing or not yes/no,
    or when a ``Voice-Message`` line is malformed.
    """
    text = body.decode("utf-8", errors="strict") if isinstance(body, bytes) else body
    fields: dict[str, str] = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        name, colon, value = line.partition(":")
        if colon:
            fields.setdefault(name.strip().lower(), value.strip())
    waiting = fields.get("messages-waiting", "").lower()
    if waiting not in ("yes", "no"):
        raise MessageSummaryError("Messages-Waiting must be yes or no")
    new = old = 0
    if "voice-message" in fields:
        match = _VOICE.match(fields["voice-message"])
        if match is None:
            raise MessageSummaryError(f"bad Voice-Message {fields['voice-message'][:40]!r}")
        new, old = int(match.group(1)), int(match.group(2))
    return MessageSummary(account=fields.get("message-account", ""), new=new, old=old)


__all__ = [
    "CONTENT_TYPE",
    "EVENT_PACKAGE",
    "MessageSummary",
    "MessageSummaryError",
    "parse_message_summary",
]

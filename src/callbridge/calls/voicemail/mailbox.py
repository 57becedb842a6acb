"""Mailbox: one configured ``[[mailboxes]]`` entry as the voicemail service uses it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Mailbox:
    """``emails`` get each message; ``announcement`` is its default greeting (an
    announcement id; None: the built-in sentence); ``users`` are the extensions whose phones
    show message waiting; ``api_keys`` the key names that may see its messages (empty:
    every key)."""

    id: str
    emails: tuple[str, ...] = ()
    announcement: str | None = None
    max_seconds: float = 120.0
    users: tuple[str, ...] = ()
    as_attachment: bool = False
    api_keys: tuple[str, ...] = ()

    def visible_to(self, key_name: str) -> bool:
        return not self.api_keys or key_name in self.api_keys

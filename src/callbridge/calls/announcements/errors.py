"""The media library's domain errors (the API maps them to HTTP in api/errors.py's way)."""

from __future__ import annotations


class UnknownAnnouncement(LookupError):
    """No announcement has this id."""

    def __init__(self, announcement_id: str) -> None:
        super().__init__(f"no announcement {announcement_id!r}")
        self.announcement_id = announcement_id


class AnnouncementUnplayable(Exception):
    """An announcement's audio cannot be made (speech failed, a file went bad)."""


class AnnouncementExists(Exception):
    """An upload names an id that is taken (configured or uploaded)."""

    def __init__(self, announcement_id: str) -> None:
        super().__init__(f"announcement {announcement_id!r} exists")
        self.announcement_id = announcement_id


class AnnouncementConfigured(Exception):
    """A configured announcement cannot be deleted through the API."""

    def __init__(self, announcement_id: str) -> None:
        super().__init__(f"announcement {announcement_id!r} is configured")
        self.announcement_id = announcement_id


class InvalidAnnouncement(ValueError):
    """An upload that cannot become an announcement: not audio, too long, a bad id,
    voice or text.  ``field`` names the part of the request at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

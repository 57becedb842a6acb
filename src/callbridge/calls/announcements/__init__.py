"""The announcement library: prompts by id (configured and uploaded) as 8 kHz audio."""

from callbridge.calls.announcements.errors import UnknownAnnouncement
from callbridge.calls.announcements.library import AnnouncementLibrary

__all__ = ["AnnouncementLibrary", "UnknownAnnouncement"]

"""Announcement ids (seed-004 names them, e.g. "7684"): they name files and URL segments,
so they are letters, digits, '_' and '-' only (no '.', no '/'), 1 to 64 of them."""

from __future__ import annotations

import re

ANNOUNCEMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
ID_RULE = "an announcement id is 1 to 64 letters, digits, '_' or '-'"
# A voice document's <Play> reference to a library announcement: announcement:ID.
SCHEME = "announcement:"


def is_announcement_id(value: str) -> bool:
    return ANNOUNCEMENT_ID.fullmatch(value) is not None

"""Fixtures for the in-process media plane tests (loopback UDP only)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from callbridge.media.inprocess import InProcessMediaPlane


@pytest.fixture
async def plane() -> AsyncIterator[InProcessMediaPlane]:
    media = InProcessMediaPlane(host="127.0.0.1", port_start=41000, port_end=41199)
    yield media
    await media.close()

"""Fixtures shared by the test folders: a PostgreSQL server for the session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import postgres_server
from postgres_server import Server

REQUIRE_POSTGRES = "CALLBRIDGE_TEST_POSTGRES"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    """A throwaway PostgreSQL server (:mod:`postgres_server`), started on first use.

    Without PostgreSQL's binaries or asyncpg the tests that use it are skipped, unless
    ``CALLBRIDGE_TEST_POSTGRES=require`` (``make test``) makes that a failure."""
    reason = postgres_server.missing()
    if reason is not None:
        if os.environ.get(REQUIRE_POSTGRES) == "require":
            pytest.fail(f"{REQUIRE_POSTGRES}=require: {reason}")
        pytest.skip(reason)
    server = postgres_server.start()
    yield server
    server.stop()

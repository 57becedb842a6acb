"""Fixtures shared by the test folders: a PostgreSQL server for the session; and, under
pytest-xdist, a network namespace per worker (:mod:`worker_network`)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import postgres_server
import worker_network
from postgres_server import Server

REQUIRE_POSTGRES = "CALLBRIDGE_TEST_POSTGRES"


def pytest_configure(config: pytest.Config) -> None:
    """An xdist worker runs its tests in a network namespace of its own, so the fixed
    loopback ports of one worker's tests never meet another's."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        worker_network.isolate()


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

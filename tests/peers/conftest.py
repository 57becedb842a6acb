"""Fixtures that start real SIP peers on loopback and stop them after the test.

- ``sipp_uas(mode, **kw)``: a started background SIPp UAS (:class:`peers.sipp.SippRun`).
- ``sipp_uac(target, scenario="uac", **kw)``: a SIPp UAC, not started (``await .run()``).
- ``baresip(name, **kw)``: a started :class:`peers.baresip.Baresip` (user ``name`` unless
  ``user=`` says otherwise, e.g. two phones of one user).

Each peer gets its own loopback address (SIPp 127.0.10.100-249, baresip 127.0.20.100-249)
and port 5060; the fixtures skip the test when the binary is missing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from .baresip import SIP_PORT as BARESIP_PORT
from .baresip import Baresip, baresip_available
from .net import BARESIP_POOL, SIPP_POOL
from .sipp import MEDIA_PORT, SIP_PORT, SippRun, UasMode, sipp_available

SippUasFactory = Callable[..., Awaitable[SippRun]]
SippUacFactory = Callable[..., SippRun]
BaresipFactory = Callable[..., Awaitable[Baresip]]


def require_sipp() -> None:
    if not sipp_available():
        pytest.skip("sipp is not installed (Debian package sip-tester)")


def require_baresip() -> None:
    if not baresip_available():
        pytest.skip("baresip is not installed (Debian package baresip)")


def sipp_host() -> str:
    """A 127.0.10.x address with SIPp's SIP and media ports free."""
    return SIPP_POOL.take((SIP_PORT, MEDIA_PORT, MEDIA_PORT + 1, MEDIA_PORT + 2, MEDIA_PORT + 3))


def baresip_host() -> str:
    """A 127.0.20.x address with baresip's SIP ports free (it also listens on port+1)."""
    return BARESIP_POOL.take((BARESIP_PORT, BARESIP_PORT + 1))


@pytest.fixture
async def sipp_uas(tmp_path: Path) -> AsyncIterator[SippUasFactory]:
    require_sipp()
    started: list[SippRun] = []

    async def make(mode: UasMode, **kwargs: Any) -> SippRun:
        host = kwargs.pop("host", None) or sipp_host()
        run = SippRun.uas(mode, workdir=tmp_path / "sipp", host=host, **kwargs)
        await run.start()
        started.append(run)
        return run

    yield make
    for run in started:
        if run.process is not None and run.process.returncode is None:
            await run.stop()


@pytest.fixture
async def sipp_uac(tmp_path: Path) -> AsyncIterator[SippUacFactory]:
    require_sipp()
    made: list[SippRun] = []

    def make(target: str, scenario: str | Path = "uac", **kwargs: Any) -> SippRun:
        host = kwargs.pop("host", None) or sipp_host()
        run = SippRun(scenario, workdir=tmp_path / "sipp", host=host, target=target, **kwargs)
        made.append(run)
        return run

    yield make
    for run in made:
        if run.process is not None and run.process.returncode is None:
            await run.stop()


@pytest.fixture
async def baresip(tmp_path: Path) -> AsyncIterator[BaresipFactory]:
    require_baresip()
    started: list[Baresip] = []

    async def make(name: str = "peer", **kwargs: Any) -> Baresip:
        host = kwargs.pop("host", None) or baresip_host()
        user = kwargs.pop("user", None) or name
        peer = Baresip(tmp_path / f"baresip-{name}", host=host, user=user, **kwargs)
        await peer.start()
        started.append(peer)
        return peer

    yield make
    for peer in started:
        await peer.stop()

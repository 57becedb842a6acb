"""The server's own handling of SIGTERM and SIGINT (uvicorn's is switched off): the first
signal drains the calls, the second ends them now."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Generator

import uvicorn

log = logging.getLogger(__name__)


class ApiServer(uvicorn.Server):
    """uvicorn's server without its own signal handling: :class:`ShutdownSignals` owns
    SIGTERM and SIGINT.  uvicorn's re-raised the signal once it had stopped, which killed
    the process (status 143) before any call was ended: no BYE, no completed callback."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        yield


class ShutdownSignals:
    """SIGTERM and SIGINT while serving: the first sets :attr:`stop` (drain the calls, then
    exit 0), the second :attr:`hurry` (end the live calls now rather than after
    ``[calls] drain_seconds``)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.hurry = asyncio.Event()

    def __enter__(self) -> ShutdownSignals:
        loop = asyncio.get_running_loop()
        for sig in self.SIGNALS:
            loop.add_signal_handler(sig, self._received, sig)
        return self

    def __exit__(self, *exc: object) -> None:
        loop = asyncio.get_running_loop()
        for sig in self.SIGNALS:
            loop.remove_signal_handler(sig)

    def _received(self, sig: signal.Signals) -> None:
        if self.stop.is_set():
            log.warning("%s again: ending the live calls now", sig.name)
            self.hurry.set()
            return
        log.warning("%s: shutting down", sig.name)
        self.stop.set()

    async def wait_or(self, task: asyncio.Task[None]) -> None:
        """Until a signal comes or ``task`` ends (the HTTP server could not start)."""
        stop = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({stop, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()

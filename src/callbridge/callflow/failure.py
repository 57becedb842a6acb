"""An application error on a call: logged, announced to a caller who can hear it, and the
leg hung up as ``failed`` with the error as its detail."""

from __future__ import annotations

import asyncio
import logging

from callbridge.callflow.outcome import Failed
from callbridge.callflow.ports import LegPort
from callbridge.engine.events import EndReason, LegEndedError, LegState

log = logging.getLogger("callbridge.callflow.runner")  # its lines keep the runner's name

ERROR_ANNOUNCEMENT = "An application error occurred. Goodbye."


async def fail_call(leg: LegPort, reason: str, *, announcement_timeout: float) -> Failed:
    log.warning("callflow on leg %s failed: %s", leg.id, reason)
    if leg.ended is None:
        await _announce_error(leg, announcement_timeout)
        await _hang_up_after_error(leg, reason)
    return Failed(error=reason)


async def _hang_up_after_error(leg: LegPort, reason: str) -> None:
    """The leg ends as ``failed`` (answered or not), with the error as its detail: the
    call's completed event and callback say what broke, not a normal hang-up."""
    try:
        await leg.hangup(EndReason.FAILED, detail=f"application error: {reason}")
    except Exception:
        log.exception("leg %s: hangup after an application error failed", leg.id)


async def _announce_error(leg: LegPort, timeout: float) -> None:
    if leg.state not in (LegState.ANSWERED, LegState.EARLY_MEDIA):
        return
    try:
        async with asyncio.timeout(timeout):
            await leg.say(ERROR_ANNOUNCEMENT)
    except (LegEndedError, TimeoutError):
        pass
    except Exception:
        log.exception("leg %s: error announcement failed", leg.id)

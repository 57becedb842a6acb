"""The parameters of a wait URL request (Twilio's names), from what the queue knows (pure)."""

from __future__ import annotations

from collections.abc import Sequence


def wait_params(
    *, queue_id: str, position: int, waited: float, waiting: Sequence[float]
) -> dict[str, str]:
    """``waited``: this caller's seconds in the queue; ``waiting``: those of every caller
    waiting now (``AvgQueueTime`` is their average, as Twilio's)."""
    times = list(waiting) or [waited]
    return {
        "QueueSid": queue_id,
        "QueuePosition": str(position),
        "QueueTime": str(round(waited)),
        "AvgQueueTime": str(round(sum(times) / len(times))),
        "CurrentQueueSize": str(len(waiting)),
    }

"""Queues as ``GET /api/v2/queues`` and ``/api/v2/queues/{id}`` show them (pure)."""

from __future__ import annotations

from typing import Any

from callbridge.calls.queues.snapshot import QueueSnapshot

API_PREFIX = "/api/v2"


def queue_json(queue: QueueSnapshot) -> dict[str, Any]:
    """camelCase; seconds rounded to tenths; ``averageWait`` is ``null`` before the
    first answered caller."""
    return {
        "id": queue.id,
        "project": queue.project,
        "strategy": queue.strategy,
        "waiting": [
            {"position": w.position, "caller": w.caller, "waitingSeconds": round(w.waited, 1)}
            for w in queue.waiting
        ],
        "members": [
            {"extension": m.extension, "state": m.state, "answered": m.answered}
            for m in queue.members
        ],
        "answered": queue.answered,
        "abandoned": queue.abandoned,
        "overflowed": queue.overflowed,
        "left": queue.left,
        "averageWait": None if queue.average_wait is None else round(queue.average_wait, 1),
        "uri": f"{API_PREFIX}/queues/{queue.id}",
    }

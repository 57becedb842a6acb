"""[[queues]]: the call queues, their members and their callers' music."""

from __future__ import annotations

from callbridge.calls.hold_music import HoldMusic
from callbridge.calls.presence import Presence
from callbridge.calls.queues import Queues, QueueSettings, Strategy
from callbridge.calls.queues.statistics import stored_statistics
from callbridge.config import CallbridgeConfig
from callbridge.engine.engine import Engine
from callbridge.store.database import Database


def configured_queues(
    config: CallbridgeConfig,
    engine: Engine,
    music: HoldMusic,
    presence: Presence,
    database: Database,
) -> Queues:
    """[[queues]]: members online, busy or resting as ``presence`` says (with the queues'
    own view of their calls); waiting callers hear ``music`` ([media] music_on_hold)."""
    settings = tuple(
        QueueSettings(
            id=q.id,
            project=q.project,
            strategy=Strategy(q.strategy),
            members=q.members,
            member_timeout=q.member_timeout,
            wrapup=q.wrapup,
            max_wait=q.max_wait,
            overflow=q.overflow,
            announce_position_every=q.announce_position_every,
        )
        for q in config.queues
    )
    return Queues(
        queues=settings,
        engine=engine,
        presence=presence,
        music=music,
        statistics=stored_statistics(database),  # durable, shared by the nodes
    )

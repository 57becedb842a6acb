"""Call queues: callers wait with music and position announcements while members are
rung by a strategy through the switch (``[[queues]]``)."""

from callbridge.calls.queues.result import QueueResult
from callbridge.calls.queues.service import Queues, UnknownQueue
from callbridge.calls.queues.settings import QueueSettings, Strategy

__all__ = ["QueueResult", "QueueSettings", "Queues", "Strategy", "UnknownQueue"]

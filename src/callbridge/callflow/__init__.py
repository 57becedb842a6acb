"""Call flow: one internal model of verbs, and the runner that executes programs on a leg."""

from callbridge.callflow.errors import CallflowError, FetchError, InvalidProgram, InvalidVerb
from callbridge.callflow.limits import RunnerLimits
from callbridge.callflow.outcome import Completed, Failed, HungUp, Outcome, Redirected
from callbridge.callflow.runner import CallflowRunner
from callbridge.callflow.verbs import (
    Dial,
    DialGroup,
    DialTarget,
    Enqueue,
    Gather,
    Hangup,
    Pause,
    Play,
    Program,
    Record,
    Redirect,
    Reject,
    Say,
    SendDigits,
    Verb,
)

__all__ = [
    "CallflowError",
    "CallflowRunner",
    "Completed",
    "Dial",
    "DialGroup",
    "DialTarget",
    "Enqueue",
    "Failed",
    "FetchError",
    "Gather",
    "Hangup",
    "HungUp",
    "InvalidProgram",
    "InvalidVerb",
    "Outcome",
    "Pause",
    "Play",
    "Program",
    "Record",
    "Redirect",
    "Redirected",
    "Reject",
    "RunnerLimits",
    "Say",
    "SendDigits",
    "Verb",
]

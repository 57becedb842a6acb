"""[[queues]] and [[numbers]] queue = "...": validated with clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from callbridge.config import CallbridgeConfig
from callbridge.config_queues import QueueSection

USERS = [{"extension": "1001", "password": "a"}, {"extension": "1002", "password": "b"}]
OVERFLOW = "<Response><Forward><Target><Number>1003</Number></Target></Forward></Response>"


def config(**queue: Any) -> CallbridgeConfig:
    fields: dict[str, Any] = {"id": "test-queue", "members": ["1001", "1002"]}
    fields.update(queue)
    return CallbridgeConfig.model_validate(
        {"projects": [{"id": 1}], "users": USERS, "queues": [fields]}
    )


def test_a_queue_with_every_key() -> None:
    queue = config(
        project=1,
        strategy="roundrobin",
        member_timeout=15,
        wrapup=5,
        max_wait=300,
        overflow=OVERFLOW,
        announce_position_every=30,
    ).queues[0]
    assert queue == QueueSection(
        id="test-queue",
        project=1,
        strategy="roundrobin",
        members=("1001", "1002"),
        member_timeout=15,
        wrapup=5,
        max_wait=300,
        overflow=OVERFLOW,
        announce_position_every=30,
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"strategy": "fastest"}, "strategy must be one of"),
        ({"members": ["1001", "9999"]}, "are not [[users]] extensions"),
        ({"members": []}, "at least 1"),
        ({"members": ["1001", "1001"]}, "must not repeat"),
        ({"overflow": "<Response><Forward>"}, "not well-formed XML"),
        ({"overflow": "<Hangup/>"}, "must be a <Response> document"),
        (
            {"overflow": '<!DOCTYPE r [<!ENTITY a "x">]><Response>&a;</Response>'},
            "not well-formed XML",
        ),
        ({"id": "../etc"}, "queue id must be"),
        ({"member_timeout": 0}, "greater than 0"),
        ({"announce_position_every": -1}, "greater than or equal to 0"),
        ({"project": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_queues_are_refused_with_a_clear_error(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config(**fields)


def test_queue_ids_are_unique_and_numbers_name_known_queues() -> None:
    queue = {"id": "q", "members": ["1001"]}
    with pytest.raises(ValueError, match="queue ids must be unique"):
        CallbridgeConfig.model_validate({"users": USERS, "queues": [queue, queue]})
    with pytest.raises(ValueError, match=r"queue 'nope' is not a \[\[queues\]\] id"):
        CallbridgeConfig.model_validate(
            {"users": USERS, "queues": [queue], "numbers": [{"number": "+1555", "queue": "nope"}]}
        )
    with pytest.raises(ValueError, match="exactly one of"):
        CallbridgeConfig.model_validate(
            {
                "users": USERS,
                "queues": [queue],
                "numbers": [{"number": "+1555", "queue": "q", "user": "1001"}],
            }
        )
    ok = CallbridgeConfig.model_validate(
        {"users": USERS, "queues": [queue], "numbers": [{"number": "+1555", "queue": "q"}]}
    )
    assert ok.numbers[0].queue == "q"

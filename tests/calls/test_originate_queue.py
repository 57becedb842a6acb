"""type=queue through the queues port (branch ``queues`` provides it; fakes here): an
unknown queue, or none wired, is "Invalid Queue. Check if pbx queue exists"; a known one
is originated; with async=0 a queue whose members all let it ring says so."""

from __future__ import annotations

import pytest

from callbridge.calls.originate.clients import OriginateClient
from callbridge.calls.originate.ledger import OriginateStatus
from callbridge.calls.originate.request import OriginateRefused, OriginateRequest, OriginateType
from callbridge.calls.originate.service import OriginateService, PbxDirectory
from callbridge.calls.presence import PresenceState
from callbridge.engine.leg import CallLeg
from callbridge.media.plane import MediaPortsExhausted

CLIENT = OriginateClient(username="u", password="p", key="k", project=None)
DIRECTORY = PbxDirectory(
    projects=frozenset({1}), users={}, trunks=frozenset({"t"}), default_trunk="t"
)


class NoEngine:
    async def originate(self, to: str, **_: object) -> CallLeg:
        raise AssertionError("no member answered: the customer is not dialled")

    def bridge(self, a: CallLeg, b: CallLeg) -> None:
        raise AssertionError


class Everyone:
    def state(self, extension: str) -> PresenceState:
        return PresenceState.ONLINE


class NobodyAnswers:
    def __init__(self) -> None:
        self.rung: list[tuple[str, str, str | None]] = []

    def exists(self, queue_id: str) -> bool:
        return queue_id == "test-queue"

    async def ring_members(
        self, queue_id: str, *, caller_id: str, display_name: str | None
    ) -> CallLeg | None:
        self.rung.append((queue_id, caller_id, display_name))
        return None


def asked(destination: str, *, wait: bool) -> OriginateRequest:
    return OriginateRequest(
        project_id=1,
        caller_id="0123456789",
        caller_id_name="John Doe",
        type=OriginateType.QUEUE,
        destination=destination,
        external_id=f"q-{destination}-{wait}",
        wait=wait,
    )


async def test_without_queues_every_queue_is_invalid() -> None:
    service = OriginateService(engine=NoEngine(), presence=Everyone(), directory=DIRECTORY)
    with pytest.raises(OriginateRefused) as refused:
        await service.originate(CLIENT, asked("test-queue", wait=False))
    assert refused.value.messages == ("Invalid Queue. Check if pbx queue exists",)
    await service.close()


async def test_a_known_queue_rings_its_members_with_the_customer_shown() -> None:
    queues = NobodyAnswers()
    service = OriginateService(
        engine=NoEngine(), presence=Everyone(), directory=DIRECTORY, queues=queues
    )
    with pytest.raises(OriginateRefused) as refused:
        await service.originate(CLIENT, asked("other", wait=False))
    assert refused.value.messages == ("Invalid Queue. Check if pbx queue exists",)
    done = await service.originate(CLIENT, asked("test-queue", wait=False))
    assert done == "Call successfully originated for queue: test-queue"
    with pytest.raises(OriginateRefused) as refused:
        await service.originate(CLIENT, asked("test-queue", wait=True))
    assert refused.value.messages == ("No member of queue test-queue answered",)
    assert queues.rung[-1] == ("test-queue", "0123456789", "John Doe")
    found = await service.find("q-test-queue-True")
    assert found is not None
    assert found.status is OriginateStatus.AGENT_NOT_ANSWERED
    await service.close()


class NoPorts:
    async def originate(self, to: str, **_: object) -> CallLeg:
        raise MediaPortsExhausted("no RTP port free")

    def user_contacts(self, to: str) -> None:
        return None  # as for no user: one leg, which finds no port

    def bridge(self, a: CallLeg, b: CallLeg) -> None:
        raise AssertionError


async def test_no_free_rtp_port_is_a_named_error_not_a_crash() -> None:
    directory = PbxDirectory(
        projects=frozenset({1}), users={"1001": None}, trunks=frozenset(), default_trunk="t"
    )
    service = OriginateService(engine=NoPorts(), presence=Everyone(), directory=directory)
    user_call = OriginateRequest(
        project_id=1,
        caller_id="0123456789",
        caller_id_name="John Doe",
        type=OriginateType.USER,
        destination="1001",
        external_id="ports-1",
    )
    with pytest.raises(OriginateRefused) as refused:
        await service.originate(CLIENT, user_call)
    assert refused.value.messages == ("The server is too busy to call now. Try again later",)
    await service.close()

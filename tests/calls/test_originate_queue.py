"""type=queue through the queues port (branch ``queues`` provides it; fakes here): an
unknown queue, or none wired, is "Invalid Queue. Check if pbx queue exists"; a known one
is originated; with async=0 a queue whose members all let it ring says so.  Each
origination is a stored call (the agent leg), found again by its external_id."""

from __future__ import annotations

import pytest

from callbridge.calls.originate.clients import OriginateClient
from callbridge.calls.originate.legs import CallStore
from callbridge.calls.originate.request import OriginateRefused, OriginateRequest, OriginateType
from callbridge.calls.originate.service import OriginateService, PbxDirectory
from callbridge.calls.originate.state import OriginateStatus
from callbridge.calls.presence import PresenceState
from callbridge.engine.leg import CallLeg
from callbridge.media.plane import MediaPortsExhausted
from callbridge.store.clock import SystemClock
from callbridge.store.database import Database
from callbridge.store.records import CallFilters
from callbridge.store.repository import CallRepository
from callbridge.vocabulary import CallStatus

CLIENT = OriginateClient(username="u", password="p", key="k", project=None)
DIRECTORY = PbxDirectory(
    projects=frozenset({1, 2}),
    users={},
    trunks=frozenset({"t"}),
    default_trunk="t",
    queues={"test-queue": 1, "other-project": 2},
)


@pytest.fixture
def store(database: Database) -> CallStore:
    clock = SystemClock()
    return CallStore(
        repository=CallRepository(database=database, clock=clock), clock=clock, node="test"
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
        self, queue_id: str, *, caller_id: str, display_name: str | None, until: object = None
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


async def test_without_queues_every_queue_is_invalid(store: CallStore) -> None:
    service = OriginateService(
        engine=NoEngine(), presence=Everyone(), directory=DIRECTORY, store=store
    )
    with pytest.raises(OriginateRefused) as refused:
        await service.originate(CLIENT, asked("test-queue", wait=False))
    assert refused.value.messages == ("Invalid Queue. Check if pbx queue exists",)
    await service.close()


async def test_a_known_queue_rings_its_members_with_the_customer_shown(store: CallStore) -> None:
    queues = NobodyAnswers()
    service = OriginateService(
        engine=NoEngine(), presence=Everyone(), directory=DIRECTORY, queues=queues, store=store
    )
    for unknown in ("other", "other-project"):  # not configured; another project's
        with pytest.raises(OriginateRefused) as refused:
            await service.originate(CLIENT, asked(unknown, wait=False))
        assert refused.value.messages == ("Invalid Queue. Check if pbx queue exists",)
    done = await service.originate(CLIENT, asked("test-queue", wait=False))
    assert done == "Call successfully originated for queue: test-queue"
    with pytest.raises(OriginateRefused) as refused:
        await service.originate(CLIENT, asked("test-queue", wait=True))
    assert refused.value.messages == ("No member of queue test-queue answered",)
    assert queues.rung[-1] == ("test-queue", "0123456789", "John Doe")
    found = await service.find(CLIENT, "q-test-queue-True")
    assert found is not None
    assert found.status is OriginateStatus.AGENT_NOT_ANSWERED
    assert found.detail == "No member of queue test-queue answered"
    assert found.placement.destination == "test-queue"
    [agent] = (await store.repository.list_calls(CallFilters(external_id=found.external_id))).calls
    assert (agent.sid, agent.to, agent.from_) == (found.call_sid, "test-queue", "0123456789")
    assert agent.status is CallStatus.NO_ANSWER
    assert agent.hangup_cause == "no member answered"
    events = [e.name for e in (await store.repository.get_call(agent.sid)).events]
    assert events == ["initiated", "originate", "completed"]
    assert (
        await service.find(
            OriginateClient(username="x", password="p", key="k", project=2), found.external_id
        )
        is None
    )
    await service.close()


class NoPorts:
    async def originate(self, to: str, **_: object) -> CallLeg:
        raise MediaPortsExhausted("no RTP port free")

    def user_contacts(self, to: str) -> None:
        return None  # as for no user: one leg, which finds no port

    def bridge(self, a: CallLeg, b: CallLeg) -> None:
        raise AssertionError


async def test_no_free_rtp_port_is_a_named_error_not_a_crash(store: CallStore) -> None:
    directory = PbxDirectory(
        projects=frozenset({1}), users={"1001": None}, trunks=frozenset(), default_trunk="t"
    )
    service = OriginateService(
        engine=NoPorts(), presence=Everyone(), directory=directory, store=store
    )
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
    found = await service.find(CLIENT, "ports-1")
    assert found is not None
    assert found.status is OriginateStatus.AGENT_NOT_ANSWERED
    stored = (await store.repository.get_call(found.call_sid)).call
    assert stored.status is CallStatus.FAILED
    await service.close()

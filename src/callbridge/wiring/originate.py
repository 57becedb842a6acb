"""seed-002's OriginateCall: the PBX directory ([[projects]], [[users]], [[contexts]]) and
the [[originate_users]] clients."""

from __future__ import annotations

from callbridge.calls.drain import DrainGate
from callbridge.calls.originate.clients import OriginateClient
from callbridge.calls.originate.context import ContextFlow
from callbridge.calls.originate.legs import CallStore
from callbridge.calls.originate.service import OriginateService, OriginateTimes, PbxDirectory
from callbridge.calls.presence import Presence
from callbridge.calls.queues import Queues
from callbridge.calls.request import StatusCallback
from callbridge.calls.service import CallbridgeCalls
from callbridge.config import CallbridgeConfig
from callbridge.dialects.originate_auth import OriginateClients
from callbridge.dialects.voicexml import parse_voice_xml
from callbridge.engine.engine import Engine
from callbridge.store.repository import ApiKeyRepository
from callbridge.webhooks.params import CallbackEvent


async def originate_api(
    config: CallbridgeConfig,
    engine: Engine,
    presence: Presence,
    calls: CallbridgeCalls,
    keys: ApiKeyRepository,
    queues: Queues,
    store: CallStore,
    admission: DrainGate,
) -> tuple[OriginateService, OriginateClients]:
    """seed-002's OriginateCall: the service (close it at shutdown) and its clients."""
    directory = PbxDirectory(
        projects=frozenset(p.id for p in config.projects),
        users={u.extension: u.project for u in config.users},
        trunks=frozenset(t.name for t in config.trunks),
        default_trunk=config.default_trunk.name if config.default_trunk else None,
        contexts={
            (c.project, c.name): ContextFlow(voice_url=c.voice_url, voice_xml=c.voice_xml)
            for c in config.contexts
        },
        queues={q.id: q.project for q in config.queues},
    )
    service = OriginateService(
        engine=engine,
        presence=presence,
        directory=directory,
        store=store,
        contexts=calls,
        translate=parse_voice_xml,
        base_url=config.http.base_url or "",
        queues=queues,
        times=OriginateTimes(max_duration=config.calls.max_duration),
        admission=admission,
        live=calls.live,
    )
    key_ids: dict[str, str | None] = {}
    for configured in config.api_keys:
        record = await keys.find_by_key(configured.key)
        key_ids[configured.name] = None if record is None else record.id
    clients = OriginateClients(
        OriginateClient(
            username=u.username,
            password=u.password,
            key=u.key,
            project=u.project,
            api_key_id=None if u.api_key is None else key_ids.get(u.api_key),
            status_callback=None
            if u.status_callback is None
            else StatusCallback(
                url=u.status_callback,
                method=u.status_callback_method,
                events=tuple(CallbackEvent(each) for each in u.status_callback_event.split()),
            ),
            agent_ring_timeout=u.agent_ring_timeout,
            customer_ring_timeout=u.customer_ring_timeout,
        )
        for u in config.originate_users
    )
    return service, clients

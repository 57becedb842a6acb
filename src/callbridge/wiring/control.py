"""Call control and notify (seed-004), with the announcements, hold music, queues and
voicemail its plans use."""

from __future__ import annotations

from callbridge.calls.announcements.library import AnnouncementLibrary
from callbridge.calls.control.controlled_call import CallControl
from callbridge.calls.control.ports import ControlPorts
from callbridge.calls.control.server_wiring import call_control
from callbridge.calls.destination_policy import DestinationPolicy
from callbridge.calls.hold_music import HoldMusic
from callbridge.calls.queues import Queues
from callbridge.calls.voicemail import Voicemail
from callbridge.config import CallbridgeConfig
from callbridge.engine.engine import Engine
from callbridge.httpclient.port import HttpRequests
from callbridge.store.clock import Clock
from callbridge.store.repository import CallRepository


def configured_call_control(
    config: CallbridgeConfig,
    *,
    engine: Engine,
    repository: CallRepository,
    clock: Clock,
    http: HttpRequests,
    announcements: AnnouncementLibrary,
    music: HoldMusic,
    queues: Queues,
    voicemail: Voicemail,
    policy: DestinationPolicy,
) -> CallControl:
    return call_control(
        engine=engine,
        router=engine.router,
        realm=config.sip.realm,
        store=repository,
        clock=clock,
        http=http,
        ports=ControlPorts(
            announcements=announcements,
            hold_music=music,
            queues=queues,
            voicemail=voicemail,
        ),
        policy=policy,
    )

"""How the server builds call control from its configuration (callbridge.wiring calls these)."""

from __future__ import annotations

from collections.abc import Iterable

from callbridge.calls.control.controlled_call import CallControl
from callbridge.calls.control.credentials import AuthorizedUrl, authorized_url
from callbridge.calls.control.notify import EventStore, NotifyAuthorization, RequestSigner
from callbridge.calls.control.ports import ControlPorts
from callbridge.calls.destination_policy import DestinationPolicy
from callbridge.calls.switch.ringer import Originator
from callbridge.engine.routing import Router
from callbridge.httpclient.port import HttpRequests
from callbridge.store.clock import Clock


def notify_signer(notify_urls: Iterable[str | None], then: RequestSigner) -> RequestSigner:
    """The dispatcher's signer: ``then``, plus Basic auth for the notify URLs that carry it."""
    urls: tuple[AuthorizedUrl, ...] = tuple(authorized_url(u) for u in notify_urls if u)
    return NotifyAuthorization(urls, then=then)


def call_control(
    *,
    engine: Originator,
    router: Router,
    realm: str,
    store: EventStore,
    clock: Clock,
    http: HttpRequests,
    ports: ControlPorts | None = None,
    policy: DestinationPolicy | None = None,
) -> CallControl:
    return CallControl(
        engine=engine,
        is_extension=router.is_extension,
        domain=realm,
        store=store,
        clock=clock,
        http=http,
        ports=ports,
        policy=policy,
    )

"""Where a dialled string goes: a registered user's phones, a trunk, or a SIP URI."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from aiosipua.headers import parse_uri

from callbridge.sip.dialog import peer_for_uri
from callbridge.sip.message import Peer
from callbridge.sip.registrar import Registrar

NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Trunk:
    """A carrier: numbers that are no extension go there (with digest credentials if set);
    its calls come from ``inbound_networks``."""

    name: str
    uri: str
    default: bool = False
    username: str | None = None
    password: str | None = None
    inbound_networks: tuple[Network, ...] | None = None  # None: the host of ``uri``
    # Its requests are not counted by the per-source limit (pike); this limit, over all
    # its addresses, applies instead (0: none) — see callbridge.engine.trunk_limits.
    max_requests_per_second: int = 0

    @cached_property
    def sources(self) -> tuple[Network, ...]:
        """Where its calls come from: ``inbound_networks``, else the host of ``uri`` when
        that is an IP address (a host name is not resolved)."""
        if self.inbound_networks is not None:
            return self.inbound_networks
        try:
            host = parse_uri(self.uri).host.strip("[]")
            return (ipaddress.ip_network(host),)
        except ValueError:
            return ()

    def sends_from(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.strip("[]").partition("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.sources)


@dataclass(frozen=True)
class Destination:
    """One INVITE to send: its Request-URI, To, next hop and credentials for challenges."""

    request_uri: str
    to_uri: str
    peer: Peer
    credentials: tuple[str, str] | None = None
    label: str = ""


class RoutingError(Exception):
    """A dialled string leads nowhere."""


class NoRoute(RoutingError):
    pass


class UserOffline(RoutingError):
    """An extension that exists but has no registered contact."""


class SeveralContacts(RoutingError):
    """A user with several registered phones asked for as one destination: each phone is
    its own leg (:meth:`Router.contacts`)."""


class Router:
    def __init__(
        self,
        *,
        registrar: Registrar,
        trunks: Sequence[Trunk],
        domain: str,
        default_transport: str = "udp",
    ) -> None:
        self._registrar = registrar
        self._trunks = {t.name: t for t in trunks}
        self._default = next((t for t in trunks if t.default), None)
        self._domain = domain
        self._transport = default_transport

    def is_extension(self, target: str) -> bool:
        return self._registrar.is_user(target)

    def trunk_from(self, host: str) -> Trunk | None:
        """The trunk whose ``inbound_networks`` hold ``host`` (a request's source)."""
        return next((t for t in self._trunks.values() if t.sends_from(host)), None)

    async def resolve(self, target: str, *, trunk: str | None = None) -> Destination:
        """Where the one INVITE for ``target`` goes.

        A user with one registered phone is that phone; a user with several is rung by
        whoever rings several legs at once (the switch), one :meth:`contacts` each: here
        that raises SeveralContacts.  Raises UserOffline for a user with no contact and
        NoRoute for what leads nowhere."""
        target = target.strip()
        if target.startswith(("sip:", "sips:")):
            return await self._resolved(
                Destination(target, target, self._peer(target), label=target)
            )
        if trunk is None and self._registrar.is_user(target):
            contacts = self.contacts(target)
            if len(contacts) > 1:
                raise SeveralContacts(
                    f"user {target} has {len(contacts)} phones: ring each of its contacts"
                )
            return contacts[0]
        if NUMBER.match(target):
            chosen = self._trunks.get(trunk) if trunk else self._default
            if chosen is None:
                raise NoRoute(
                    f"no trunk {'named ' + trunk if trunk else 'is default'} for {target}"
                )
            return await self._resolved(self._via_trunk(target, chosen))
        raise NoRoute(f"{target!r} is neither an extension, a number nor a SIP URI")

    def contacts(self, extension: str) -> tuple[Destination, ...]:
        """One destination per registered phone of user ``extension`` (its To is the
        user's address of record, its next hop where the phone registered from).

        Raises UserOffline for a user with no contact, NoRoute for no user."""
        if not self._registrar.is_user(extension):
            raise NoRoute(f"{extension!r} is no user")
        bindings = self._registrar.lookup(extension)
        if not bindings:
            raise UserOffline(f"user {extension} is not registered")
        to_uri = f"sip:{extension}@{self._domain}"
        return tuple(
            Destination(b.contact, to_uri, b.peer, label=f"user {extension} at {b.contact}")
            for b in bindings
        )

    def _via_trunk(self, number: str, trunk: Trunk) -> Destination:
        parsed = parse_uri(trunk.uri)
        port = f":{parsed.port}" if parsed.port else ""
        uri = f"sip:{number}@{parsed.host}{port}"
        creds = (trunk.username, trunk.password) if trunk.username and trunk.password else None
        return Destination(uri, uri, self._peer(trunk.uri), creds, label=f"trunk {trunk.name}")

    def _peer(self, uri: str) -> Peer:
        return peer_for_uri(uri, default_transport=self._transport)

    async def _resolved(self, destination: Destination) -> Destination:
        """Hostnames become addresses (A records only; RFC 3263 SRV/NAPTR is not done)."""
        host = destination.peer.host
        try:
            ipaddress.ip_address(host)
            return destination
        except ValueError:
            pass
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, destination.peer.port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            raise NoRoute(f"cannot resolve {host}: {exc}") from exc
        address = str(infos[0][4][0])
        peer = Peer(transport=destination.peer.transport, host=address, port=destination.peer.port)
        return Destination(
            destination.request_uri,
            destination.to_uri,
            peer,
            destination.credentials,
            destination.label,
        )

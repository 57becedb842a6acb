"""An aiohttp connector that connects only where an :class:`AddressPolicy` allows.

Two checks, both on addresses rather than URLs:

- the resolver drops the addresses a host name resolves to that the policy refuses (a
  name with only refused addresses fails with :class:`AddressRefused`), and aiohttp
  connects to the addresses it returned: nothing is resolved twice, so a DNS answer that
  changes between the check and the connection (rebinding) cannot slip through;
- the socket factory checks every address a socket is about to connect to, IP literals
  included (aiohttp does not resolve those), before the socket exists.

Redirects are followed by aiohttp, and each hop's connection is made by this connector (or
is a pooled one it made), so every hop is checked.  Proxies are not used (the session does
not read the environment's).
"""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from callbridge.httpclient.address_policy import AddressPolicy, Rule


class AddressRefused(OSError):
    """The policy refuses every address of a connection (raised inside aiohttp, which wraps
    it in a ``ClientConnectorError``; :func:`refusal_of` finds it again)."""

    def __init__(self, host: str, address: str, rule: Rule) -> None:
        super().__init__(f"{host} ({address}) is refused by deny_networks {rule.describe()}")
        self.host = host
        self.address = address
        self.rule = rule


class CheckingResolver(AbstractResolver):
    def __init__(self, *, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        resolved = await self._inner.resolve(host, port, family)
        allowed: list[ResolveResult] = []
        refused: AddressRefused | None = None
        for result in resolved:
            rule = self._policy.blocking_rule(result["host"])
            if rule is None:
                allowed.append(result)
            elif refused is None:
                refused = AddressRefused(host, result["host"], rule)
        if not allowed and refused is not None:
            raise refused
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def checking_socket_factory(policy: AddressPolicy) -> Any:
    """aiohappyeyeballs' socket factory: a socket for an allowed address, else
    :class:`AddressRefused` (no socket is made, nothing is sent)."""

    def make(addr_info: tuple[Any, ...]) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        address = str(sockaddr[0])
        rule = policy.blocking_rule(address)
        if rule is not None:
            raise AddressRefused(address, address, rule)
        return socket.socket(family=family, type=type_, proto=proto)

    return make


def guarded_connector(*, policy: AddressPolicy, limit: int) -> aiohttp.TCPConnector:
    return aiohttp.TCPConnector(
        limit=limit,
        resolver=CheckingResolver(policy=policy),
        socket_factory=checking_socket_factory(policy),
    )


def refusal_of(exc: BaseException) -> AddressRefused | None:
    """The :class:`AddressRefused` behind ``exc`` (aiohttp wraps it once or twice)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, AddressRefused):
            return seen
        os_error = getattr(seen, "os_error", None)
        if isinstance(os_error, AddressRefused):
            return os_error
        seen = seen.__cause__ or seen.__context__
    return None

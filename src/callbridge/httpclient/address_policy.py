"""AddressPolicy: the IP addresses the server's outgoing HTTP may connect to (pure).

Every URL a customer gives (``url``, ``statusCallback``, ``<Play>``, ``<Redirect>``,
``action``, ``announce.url``) is fetched by this server: without a policy, the server
itself, its local network and a cloud's metadata service (``169.254.169.254``) are one
request away.  An address is refused when a ``deny`` rule holds it and no ``allow``
network does; the check is made on the address actually connected to, after DNS
resolution, on every redirect hop (:mod:`.guarded_connector`).

IPv4-mapped IPv6 addresses (``::ffff:127.0.0.1``) are checked as the IPv4 address they
reach.  The rules are the configuration's entries as written, so a refusal can name the
one that refused it; ``"self"`` stands for the server's own addresses.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

SELF = "self"  # the entry that stands for the server's own addresses

# The default of [http_client] deny_networks: what a customer's URL must not reach.
# The first rule that holds an address is the one a refusal names: "self" comes last.
DEFAULT_DENY_NETWORKS: tuple[str, ...] = (
    # IPv4
    "0.0.0.0/8",  # "this network": 0.0.0.0 reaches the host itself
    "10.0.0.0/8",  # private
    "100.64.0.0/10",  # carrier-grade NAT
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local, cloud metadata services
    "172.16.0.0/12",  # private
    "192.0.0.0/24",  # IETF protocol assignments
    "192.0.2.0/24",  # documentation
    "192.88.99.0/24",  # 6to4 relay anycast
    "192.168.0.0/16",  # private
    "198.18.0.0/15",  # benchmarking
    "198.51.100.0/24",  # documentation
    "203.0.113.0/24",  # documentation
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, and the broadcast address
    # IPv6
    "::/128",  # unspecified
    "::1/128",  # loopback
    "::/96",  # IPv4-compatible (deprecated)
    "64:ff9b::/96",  # NAT64: reaches an IPv4 address through a translator
    "64:ff9b:1::/48",  # local-use NAT64
    "100::/64",  # discard
    "2001::/23",  # IETF protocol assignments (Teredo included)
    "2001:db8::/32",  # documentation
    "2002::/16",  # 6to4: reaches an IPv4 address
    "fc00::/7",  # unique local
    "fe80::/10",  # link-local
    "fec0::/10",  # site-local (deprecated)
    "ff00::/8",  # multicast
    SELF,  # the server's own addresses (a public one included)
)


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One deny entry: ``entry`` as configured (a network, or ``"self"``), and a network it
    stands for."""

    entry: str
    network: Network

    def describe(self) -> str:
        """The rule as a refusal names it (the server's own addresses are not listed)."""
        if self.entry == SELF:
            return '"self" (the server\'s own addresses)'
        return f'"{self.entry}"'


@dataclass(frozen=True, kw_only=True)
class AddressPolicy:
    deny: tuple[Rule, ...]
    allow: tuple[Network, ...] = ()

    @classmethod
    def from_entries(
        cls,
        *,
        deny: Iterable[str] = DEFAULT_DENY_NETWORKS,
        allow: Iterable[str] = (),
        own_addresses: Iterable[Address] = (),
    ) -> AddressPolicy:
        """The policy of configuration entries; ``"self"`` in ``deny`` becomes one rule per
        address of ``own_addresses``.  Raises ``ValueError`` for an entry that is not a
        network."""
        own = tuple(own_addresses)
        rules: list[Rule] = []
        for entry in deny:
            if entry == SELF:
                rules.extend(Rule(entry=SELF, network=ip_network(a)) for a in own)
            else:
                rules.append(Rule(entry=entry, network=parse_network(entry)))
        return cls(deny=tuple(rules), allow=tuple(parse_network(entry) for entry in allow))

    def blocking_rule(self, address: str | Address) -> Rule | None:
        """The rule that refuses ``address`` (an IP address, not a host name), or ``None``
        when it may be connected to (``ValueError`` for what is not an IP address)."""
        checked = normalized(address)
        if any(checked.version == n.version and checked in n for n in self.allow):
            return None
        return next(
            (r for r in self.deny if r.network.version == checked.version and checked in r.network),
            None,
        )

    def to_json(self) -> str:
        """The policy as the HTTP worker's command line carries it (:meth:`from_json`)."""
        return json.dumps(
            {
                "deny": [[r.entry, str(r.network)] for r in self.deny],
                "allow": [str(n) for n in self.allow],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> AddressPolicy:
        data = json.loads(text)
        return cls(
            deny=tuple(Rule(entry=str(e), network=ip_network(n)) for e, n in data["deny"]),
            allow=tuple(ip_network(n) for n in data["allow"]),
        )


def parse_network(entry: str) -> Network:
    """``"10.0.0.0/8"`` or a single address; ``ValueError`` with a clear message otherwise."""
    try:
        return ip_network(entry, strict=True)
    except ValueError as exc:
        raise ValueError(f"{entry!r} is not an IP network (e.g. 10.0.0.0/8): {exc}") from None


def normalized(address: str | Address) -> Address:
    """The address a connection to ``address`` reaches: IPv4-mapped IPv6 as IPv4, without
    an IPv6 zone."""
    if isinstance(address, str):
        address = ip_address(address.partition("%")[0])
    if isinstance(address, IPv6Address):
        if address.scope_id:
            address = IPv6Address(int(address))
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
    return address

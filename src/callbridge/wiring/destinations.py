"""Where each configured key's calls may go (callbridge.calls.destination_policy)."""

from __future__ import annotations

from types import MappingProxyType

from aiosipua.headers import parse_uri

from callbridge.calls.destination_policy import (
    DEFAULT_DENIED_PREFIXES,
    DestinationPolicy,
    KeyRules,
    TrunkAddress,
)
from callbridge.config import CallbridgeConfig
from callbridge.store.repository import ApiKeyRepository


async def destination_policy(config: CallbridgeConfig, keys: ApiKeyRepository) -> DestinationPolicy:
    """Where each configured key's calls may go (their ids as stored), the configured
    trunks and users, and the names this server has in SIP URIs."""
    rules: dict[str, KeyRules] = {}
    for key in config.api_keys:
        record = await keys.find_by_key(key.key)
        if record is not None:
            rules[record.id] = KeyRules(
                allowed_destinations=key.allowed_destinations,
                allow_sip_uris=key.allow_sip_uris,
                allowed_trunks=key.allowed_trunks,
                caller_ids=key.caller_ids,
            )
    host, port = config.sip.host_port
    local = {host, config.sip.advertised_address or host}
    return DestinationPolicy(
        denied_prefixes=(
            DEFAULT_DENIED_PREFIXES
            if config.calls.denied_prefixes is None
            else config.calls.denied_prefixes
        ),
        keys=MappingProxyType(rules),
        trunks=tuple(trunk_address(t.name, t.uri, t.default) for t in config.trunks),
        extensions=frozenset(u.extension for u in config.users),
        local_addresses=frozenset((each.lower(), port) for each in local),
    )


def trunk_address(name: str, uri: str, default: bool) -> TrunkAddress:
    parsed = parse_uri(uri)
    port = parsed.port or (5061 if parsed.scheme == "sips" else 5060)
    return TrunkAddress(name=name, host=parsed.host.strip("[]").lower(), port=port, default=default)

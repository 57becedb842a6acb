"""Outgoing HTTP (webhooks, documents, audio): the [http_client] address policy and the
client, in this process or in the HTTP worker process."""

from __future__ import annotations

from callbridge.config import CallbridgeConfig
from callbridge.httpclient.address_policy import AddressPolicy
from callbridge.httpclient.client import HttpClient
from callbridge.httpclient.own_addresses import own_addresses
from callbridge.httpclient.process import ProcessHttpClient


def address_policy(config: CallbridgeConfig) -> AddressPolicy:
    """[http_client]'s networks, ``"self"`` standing for this host's addresses and the ones
    it is configured with."""
    configured = [config.sip.host_port[0], config.http.host_port[0]]
    configured += [config.sip.advertised_address or ""]
    return AddressPolicy.from_entries(
        deny=config.http_client.deny_networks,
        allow=config.http_client.allow_networks,
        own_addresses=own_addresses(configured),
    )


def http_client(config: CallbridgeConfig) -> HttpClient | ProcessHttpClient:
    timeout = config.calls.webhook_timeout
    policy = address_policy(config)
    if config.calls.http_worker:
        return ProcessHttpClient(policy=policy, timeout=timeout, log_format=config.log.format)
    return HttpClient(policy=policy, timeout=timeout)

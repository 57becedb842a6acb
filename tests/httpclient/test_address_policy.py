"""AddressPolicy (pure): the default deny rules, allow_networks, IPv4-mapped IPv6, "self",
and the [http_client] configuration keys."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

import pytest

from callbridge.config import ConfigError, load_config
from callbridge.httpclient.address_policy import DEFAULT_DENY_NETWORKS, AddressPolicy
from callbridge.main import address_policy

DEFAULT = AddressPolicy.from_entries()


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "127.0.0.0/8"),
        ("127.255.0.9", "127.0.0.0/8"),
        ("0.0.0.0", "0.0.0.0/8"),
        ("10.1.2.3", "10.0.0.0/8"),
        ("172.31.255.255", "172.16.0.0/12"),
        ("192.168.1.1", "192.168.0.0/16"),
        ("169.254.169.254", "169.254.0.0/16"),
        ("100.100.100.200", "100.64.0.0/10"),
        ("224.0.0.251", "224.0.0.0/4"),
        ("255.255.255.255", "240.0.0.0/4"),
        ("::", "::/128"),
        ("::1", "::1/128"),
        ("::ffff:127.0.0.1", "127.0.0.0/8"),
        ("::ffff:169.254.169.254", "169.254.0.0/16"),
        ("::127.0.0.1", "::/96"),
        ("64:ff9b::a9fe:a9fe", "64:ff9b::/96"),
        ("2002:a9fe:a9fe::1", "2002::/16"),
        ("fd00::1", "fc00::/7"),
        ("fe80::1", "fe80::/10"),
        ("fe80::1%eth0", "fe80::/10"),
        ("ff02::1", "ff00::/8"),
    ],
)
def test_the_default_refuses_local_and_special_addresses(address: str, rule: str) -> None:
    refusing = DEFAULT.blocking_rule(address)
    assert refusing is not None
    assert refusing.entry == rule


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_the_default_allows_public_addresses(address: str) -> None:
    assert DEFAULT.blocking_rule(address) is None


def test_allow_networks_open_what_they_hold_and_nothing_more() -> None:
    policy = AddressPolicy.from_entries(allow=("127.0.0.1", "10.20.0.0/16"))
    assert policy.blocking_rule("127.0.0.1") is None
    assert policy.blocking_rule("::ffff:127.0.0.1") is None  # the same address, mapped
    assert policy.blocking_rule("10.20.3.4") is None
    assert policy.blocking_rule("127.0.0.2") is not None
    assert policy.blocking_rule("10.21.0.1") is not None
    assert policy.blocking_rule("::1") is not None


def test_an_ipv4_address_never_matches_an_ipv6_network() -> None:
    """``ipaddress`` compares the integers: 127.0.0.1 would be "in" ::/96 without care."""
    policy = AddressPolicy.from_entries(deny=("::/96",), allow=("::/0",))
    assert policy.blocking_rule("127.0.0.1") is None
    assert AddressPolicy.from_entries(deny=("::/96",)).blocking_rule("127.0.0.1") is None


def test_self_stands_for_the_servers_own_addresses() -> None:
    own = [ip_address("93.184.215.14"), ip_address("2001:4860::8")]
    policy = AddressPolicy.from_entries(own_addresses=own)
    rule = policy.blocking_rule("93.184.215.14")
    assert rule is not None
    assert rule.entry == "self"
    assert "own addresses" in rule.describe()
    assert "93.184" not in rule.describe()
    assert policy.blocking_rule("2001:4860::8") is not None
    assert policy.blocking_rule("93.184.215.15") is None
    assert DEFAULT_DENY_NETWORKS[-1] == "self"  # a named range is reported before it


def test_the_policy_crosses_to_the_worker_unchanged() -> None:
    policy = AddressPolicy.from_entries(
        own_addresses=[ip_address("93.184.215.14")], allow=("127.0.0.0/8",)
    )
    assert AddressPolicy.from_json(policy.to_json()) == policy


def test_the_configuration_builds_the_policy(tmp_path: Path) -> None:
    toml = tmp_path / "callbridge.toml"
    toml.write_text(
        '[http]\nlisten = "93.184.215.14:8080"\n'
        '[http_client]\ndeny_networks = ["self", "10.0.0.0/8"]\nallow_networks = ["10.9.0.0/16"]\n'
    )
    policy = address_policy(load_config(toml))
    assert policy.blocking_rule("93.184.215.14") is not None  # the listen address is "self"
    assert policy.blocking_rule("10.1.0.1") is not None
    assert policy.blocking_rule("10.9.0.1") is None
    assert policy.blocking_rule("127.0.0.1") is not None  # this host's loopback is "self"
    assert policy.blocking_rule("192.168.0.1") is None  # the default list was replaced


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('deny_networks = ["10.0.0.1/8"]', "host bits set"),
        ('deny_networks = ["intranet"]', "not an IP network"),
        ('allow_networks = ["self"]', "not an IP network"),
        ('allow = ["10.0.0.0/8"]', "allow"),
    ],
)
def test_bad_networks_are_refused_with_the_key_named(
    tmp_path: Path, section: str, message: str
) -> None:
    toml = tmp_path / "callbridge.toml"
    toml.write_text(f"[http_client]\n{section}\n")
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(toml)
    assert "http_client" in str(caught.value)

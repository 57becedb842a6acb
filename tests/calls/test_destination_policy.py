"""DestinationPolicy: the toll-fraud rules, pure (the APIs and <Dial>: test_destination_guards
and tests/api/test_server_destinations)."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from callbridge.calls.destination_policy import (
    DestinationPolicy,
    DestinationRefused,
    KeyRules,
    TrunkAddress,
)

KEY = "key_1"
OPEN = "key_open"
POLICY = DestinationPolicy(
    keys=MappingProxyType(
        {
            KEY: KeyRules(
                allowed_destinations=("+1", "+49"),
                allowed_trunks=("carrier",),
                caller_ids=("+15550100", "+4930555*", "1001"),
            ),
            OPEN: KeyRules(allow_sip_uris=True),
        }
    ),
    trunks=(
        TrunkAddress(name="carrier", host="127.0.10.2", port=5060, default=True),
        TrunkAddress(name="backup", host="127.0.10.3", port=5070),
    ),
    extensions=frozenset({"1001", "911"}),
    local_addresses=frozenset({("127.0.0.1", 5060)}),
)


def rule_of(destination: str, key: str = KEY, *, trunk: str | None = None) -> str | None:
    try:
        POLICY.check_destination(key, destination, trunk=trunk)
    except DestinationRefused as refused:
        return refused.rule
    return None


@pytest.mark.parametrize(
    ("destination", "rule"),
    [
        ("+15551234567", None),
        ("+4930123456", None),
        ("0049 30 123456", None),  # 00 counts as +
        ("+442071234567", "allowed_destinations"),
        ("004420712345", "allowed_destinations"),
        ("5551234", "allowed_destinations"),  # national format is outside "+1"
        ("+19005551234", "denied_prefixes"),
        ("+1 (900) 555-1234", "denied_prefixes"),
        ("01119005551234", "denied_prefixes"),  # 011 counts as +
        ("+1976555", "denied_prefixes"),
        ("112", "denied_prefixes"),
        ("999", "denied_prefixes"),
        ("+49900123", "denied_prefixes"),
        ("*671900555", "allowed_destinations"),  # a service code could hide a prefix
        ("1001", None),  # a configured user
        ("911", None),  # ... even one named like an emergency number: it is an extension
        ("sip:anyone@evil.example", "allow_sip_uris"),
        ("sip:1001@127.0.0.1", None),  # our own user
        ("sip:1001@127.0.0.1:8080", "allow_sip_uris"),  # not our SIP port
        ("sip:+15551234@127.0.10.2", None),  # a trunk: its number
        ("sip:+19005551234@127.0.10.2:5060;user=phone", "denied_prefixes"),
        ("sip:%2B1900555@127.0.10.2", "denied_prefixes"),
        ("sip:+15551234@127.0.10.3:5070", "allowed_trunks"),
        ("sip:+15551234@127.0.10.2:5099", "allow_sip_uris"),  # not the trunk's port
        ("sip:admin@127.0.10.2", "allow_sip_uris"),  # not a number at the trunk
        ("sips:x@[::1]", "allow_sip_uris"),
    ],
)
def test_destinations_of_a_restricted_key(destination: str, rule: str | None) -> None:
    assert rule_of(destination) == rule


def test_trunks_sip_uris_and_no_key() -> None:
    assert rule_of("+15551234", trunk="backup") == "allowed_trunks"
    assert rule_of("sip:x@127.0.10.99", OPEN, trunk="backup") is None
    assert rule_of("sip:x@127.0.10.99", OPEN) is None
    assert rule_of("sip:+19005551234@127.0.10.99", OPEN) == "denied_prefixes"
    assert rule_of("+4420712345", OPEN) is None  # no allowed_destinations: any number
    assert rule_of("+19005551234", OPEN) == "denied_prefixes"
    assert rule_of("sip:x@127.0.10.99", "key_unknown") == "allow_sip_uris"  # default rules
    POLICY.check_destination(None, "sip:x@anywhere")  # no key: the operator's own
    POLICY.check_destination(None, "+19005551234")
    POLICY.check_caller_id(None, "+1999")


def test_an_empty_denied_list_turns_it_off() -> None:
    DestinationPolicy(denied_prefixes=()).check_destination(KEY, "+19005551234")


@pytest.mark.parametrize(
    ("caller_id", "allowed"),
    [
        ("+15550100", True),
        ("0015550100", True),
        ("sip:+15550100@carrier.example", True),
        ("+4930555123", True),
        ("1001", True),
        ("+15550199", False),
        ("anonymous", False),
        ("sip:@host", False),
    ],
)
def test_caller_ids(caller_id: str, allowed: bool) -> None:
    if allowed:
        POLICY.check_caller_id(KEY, caller_id)
    else:
        with pytest.raises(DestinationRefused) as refused:
            POLICY.check_caller_id(KEY, caller_id)
        assert refused.value.rule == "caller_ids"
    POLICY.check_caller_id(OPEN, "+15550199")  # no caller_ids: any


def test_identity_headers_are_caller_ids() -> None:
    POLICY.check_headers(KEY, [("P-Asserted-Identity", '"Sales" <sip:+15550100@a.example>')])
    POLICY.check_headers(KEY, [("X-Campaign", "+19990000")])
    for name, value in (
        ("P-Asserted-Identity", "<sip:+15550199@a.example>"),
        ("p-preferred-identity", "tel:+15550199"),
        ("Diversion", "<sip:+15550199@a.example>;reason=unconditional"),
        ("P-Asserted-Identity", "<sip:+15550100@a>, <tel:+15550199>"),
    ):
        with pytest.raises(DestinationRefused) as refused:
            POLICY.check_headers(KEY, [(name, value)])
        assert refused.value.rule == "caller_ids"

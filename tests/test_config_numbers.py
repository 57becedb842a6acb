"""[[numbers]] and [[trunks]] inbound_addresses: validated with clear errors, and how a
dialled number matches a configured one."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path

import pytest

from callbridge.calls.inbound.number_match import normalized_number
from callbridge.config import ConfigError, load_config
from callbridge.main import engine_settings

BASE = """
[[trunks]]
name = "carrier"
uri = "sip:127.0.10.2:5060"
default = true
[[users]]
extension = "1001"
password = "secret1001"
[[api_keys]]
key = "crm-key-0123456789abcdef"
name = "crm"
[[lines]]
id = "reg1332"
users = ["1001"]
"""


def write(tmp_path: Path, more: str) -> Path:
    path = tmp_path / "numbers.toml"
    path.write_text(BASE + more)
    return path


def test_the_issues_example_loads(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[[numbers]]
number = "+15550199"
voice_url = "https://app.example.com/inbound"
voice_method = "POST"
status_callback = "https://app.example.com/status"
status_callback_event = "initiated ringing answered completed"
api_key = "crm"
[[numbers]]
number = "+15550100"
line = "reg1332"
[[numbers]]
number = "+15550101"
user = "1001"
[[numbers]]
number = "+15550102"
forward_to = "+4930123"
""",
        )
    )
    assert [n.number for n in config.numbers] == [
        "+15550199",
        "+15550100",
        "+15550101",
        "+15550102",
    ]
    (trunk,) = engine_settings(config).trunks
    assert trunk.sources == (ip_network("127.0.10.2/32"),)


def test_inbound_addresses_are_networks(tmp_path: Path) -> None:
    more = '[[trunks]]\nname = "b"\nuri = "sip:carrier.example.com"\n'
    more += 'inbound_addresses = ["127.0.11.0/24", "127.0.12.7"]\n'
    trunk = engine_settings(load_config(write(tmp_path, more))).trunks[1]
    assert trunk.sends_from("127.0.11.9")
    assert trunk.sends_from("127.0.12.7")
    assert not trunk.sends_from("127.0.12.8")
    bad = '[[trunks]]\nname = "b"\nuri = "sip:x.example"\ninbound_addresses = ["nope"]\n'
    with pytest.raises(ConfigError, match="is not an IP network"):
        load_config(write(tmp_path, bad))


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ('number = "+1555"\n', "exactly one of voice_url, user, line, forward_to"),
        ('number = "+1555"\nuser = "1001"\nline = "reg1332"\n', "exactly one of"),
        ('number = "call me"\nuser = "1001"\n', "must be a phone number"),
        ('number = "+1555"\nvoice_url = "https://a.example/x"\n', "needs an api_key"),
        ('number = "+1555"\nvoice_url = "ftp://a/x"\napi_key = "crm"\n', "http:// or https://"),
        ('number = "+1555"\nuser = "1009"\n', "user '1009' is not a \\[\\[users\\]\\]"),
        ('number = "+1555"\nline = "nope"\n', "line 'nope' is not a \\[\\[lines\\]\\] id"),
        ('number = "+1555"\nuser = "1001"\napi_key = "other"\n', "is not an \\[\\[api_keys"),
        ('number = "+1555"\nforward_to = "12ab"\n', "must be a phone number"),
        ('number = "+1555"\nuser = "1001"\nvoice_method = "PUT"\n', "GET or POST"),
        ('number = "+1555"\nuser = "1001"\nstatus_callback_event = "hung"\n', "some of"),
    ],
)
def test_invalid_numbers_are_clear_errors(tmp_path: Path, number: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, "[[numbers]]\n" + number))


def test_a_number_configured_twice_is_refused(tmp_path: Path) -> None:
    twice = '[[numbers]]\nnumber = "+1555"\nuser = "1001"\n[[numbers]]\nnumber = "1555"\n'
    twice += 'user = "1001"\n'
    with pytest.raises(ConfigError, match="configured twice"):
        load_config(write(tmp_path, twice))


@pytest.mark.parametrize(
    ("dialled", "expected"),
    [
        ("+15550199", "15550199"),
        ("15550199", "15550199"),
        ("+1 555-0199", "15550199"),
        ("(555) 0199", "5550199"),
        ("tel:+15550199", "15550199"),
        ("sip:+15550199@carrier;user=phone", "15550199"),
        ("alice", None),
        ("", None),
        ("++1555", None),
    ],
)
def test_number_matching(dialled: str, expected: str | None) -> None:
    assert normalized_number(dialled) == expected


def test_record_is_off_unless_asked_and_takes_only_a_boolean(tmp_path: Path) -> None:
    number = '[[numbers]]\nnumber = "+15550199"\nuser = "1001"\n'
    (plain,) = load_config(write(tmp_path, number)).numbers
    assert plain.record is False
    (recorded,) = load_config(write(tmp_path, number + "record = true\n")).numbers
    assert recorded.record is True
    with pytest.raises(ConfigError, match="record"):
        load_config(write(tmp_path, number + 'record = "sometimes"\n'))

"""[[mailboxes]], [smtp] and a number's mailbox: the issue's example loads; mistakes are
clear errors that name the key (and never echo the SMTP password)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from callbridge.config import ConfigError, load_config

BASE = """
[[users]]
extension = "1001"
password = "secret-1001"
[[api_keys]]
key = "voicemail-config-key-0123456789"
name = "crm"
[[trunks]]
name = "carrier"
uri = "sip:127.0.10.2:5060"
default = true
"""

EXAMPLE = """
[[mailboxes]]
id = "sales"
email = ["sales@example.com"]
announcement = "4"
max_seconds = 120
users = ["1001"]
api_keys = ["crm"]
[smtp]
host = "127.0.0.1"
port = 25
username = ""
password = ""
starttls = false
from = "Callbridge <voicemail@example.com>"
[[numbers]]
number = "+4922129191999"
mailbox = "sales"
"""


def write(tmp_path: Path, more: str) -> Path:
    path = tmp_path / "callbridge.toml"
    path.write_text(BASE + more)
    return path


def test_the_issues_example_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, EXAMPLE))
    (mailbox,) = config.mailboxes
    assert mailbox.email == ("sales@example.com",)
    assert mailbox.users == ("1001",)
    assert config.smtp.from_ == "Callbridge <voicemail@example.com>"
    assert config.numbers[0].mailbox == "sales"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('id = "sales"', 'id = "sa les"'), "mailbox id"),
        (('email = ["sales@example.com"]', 'email = ["nobody"]'), "not an e-mail address"),
        (('users = ["1001"]', 'users = ["1002"]'), "not [[users]] extensions"),
        (('api_keys = ["crm"]', 'api_keys = ["nope"]'), "not [[api_keys]] names"),
        (('mailbox = "sales"', 'mailbox = "support"'), "not a [[mailboxes]] id"),
        (("max_seconds = 120", "max_seconds = 0"), "max_seconds"),
        (("starttls = false", "starttls = true\ntls = true"), "exclude each other"),
        (('password = ""', 'password = "hunter2-smtp"'), "username and password go together"),
        (('from = "Callbridge <voicemail@example.com>"', 'from = "nobody"'), "e-mail address"),
    ],
)
def test_mistakes_are_clear_errors(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        load_config(write(tmp_path, EXAMPLE.replace(*change)))
    assert "hunter2" not in str(error.value)


def test_mailbox_ids_are_unique(tmp_path: Path) -> None:
    twice = EXAMPLE + '[[mailboxes]]\nid = "sales"\n'
    with pytest.raises(ConfigError, match="mailbox ids must be unique"):
        load_config(write(tmp_path, twice))

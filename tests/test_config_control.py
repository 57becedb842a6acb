"""[[numbers]] call control and notify keys (seed-004): issue 12's example loads, bad values
are clear errors that never show a URL's password."""

from __future__ import annotations

from pathlib import Path

import pytest

from callbridge.calls.control.plan import Forward
from callbridge.config import ConfigError, load_config
from callbridge.config_control import number_control

EXAMPLE = """
[[trunks]]
name = "carrier"
uri = "sip:127.0.10.2:5060"
default = true
[[numbers]]
number = "+4922129191999"
control_url = "https://user:secret@crm.example.com/placetel"
control_retries = 3
notify_url = "https://crm.example.com/notify"
announcement = "1001"
backup = '<Response><Forward><Target><Number>1001</Number></Target></Forward></Response>'
mailbox = "sales"
[[mailboxes]]
id = "sales"
email = ["sales@example.com"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "control.toml"
    path.write_text(text)
    return path


def test_the_issues_example_loads(tmp_path: Path) -> None:
    number = load_config(write(tmp_path, EXAMPLE)).numbers[0]
    assert number.control_retries == 3
    assert number.control_timeout == 3.0
    control = number_control(
        number=number.number,
        control_url=number.control_url,
        control_retries=number.control_retries,
        control_timeout=number.control_timeout,
        notify_url=number.notify_url,
        announcement=number.announcement,
        backup=number.backup,
        mailbox=number.mailbox,
    )
    assert control is not None
    assert control.control is not None
    assert control.control.url == "https://crm.example.com/placetel"
    assert "secret" not in repr(control)
    assert isinstance(control.backup, Forward)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("control_retries = 3", "control_retries = 11"), "control_retries"),
        (("control_retries = 3", "control_timeout = 0"), "control_timeout"),
        (("https://user:secret@crm", "ftp://user:secret@crm"), "control_url must be an http"),
        (("<Number>1001</Number>", "<Dial>1001</Dial>"), "backup is no seed-004 plan"),
        (('mailbox = "sales"', 'mailbox = "../etc"'), "mailbox must be"),
        (("control_retries = 3", 'voice_url = "https://app.example.com/x"'), "exactly one of"),
    ],
)
def test_bad_values_are_clear_errors(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, EXAMPLE.replace(*change)))
    assert message in str(error.value)
    assert "secret" not in str(error.value)


def test_notify_url_without_control_url_notifies_a_number_routed_otherwise(
    tmp_path: Path,
) -> None:
    text = EXAMPLE.replace(
        'control_url = "https://user:secret@crm.example.com/placetel"', 'forward_to = "+4930"'
    )
    number = load_config(write(tmp_path, text)).numbers[0]
    assert number.forward_to == "+4930"
    control = number_control(
        number=number.number,
        control_url=number.control_url,
        control_retries=number.control_retries,
        control_timeout=number.control_timeout,
        notify_url=number.notify_url,
        announcement=number.announcement,
        backup=number.backup,
        mailbox=number.mailbox,
    )
    assert control is not None
    assert control.control is None
    assert control.notify is not None

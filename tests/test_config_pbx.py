"""The PBX model's keys: [[projects]], [[originate_users]], [[users]] project, [[contexts]];
each mistake a clear error that names the entry (never a password or key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callbridge.config import CallbridgeConfig, ConfigError, load_config

PBX = """
[[projects]]
id = 1
name = "Sales"
[[api_keys]]
key = "a-key-of-at-least-16-chars"
name = "crm"
[[originate_users]]
username = "your_api_usr"
password = "your_api_pass"
key = "your_api_key"
project = 1
api_key = "crm"
[[users]]
extension = "1001"
password = "secret"
project = 1
[[contexts]]
name = "welcome"
project = 1
voice_url = "https://crm.example.com/context/welcome"
"""


QUEUE = """[[queues]]
id = "sales"
project = {project}
members = ["1001"]
"""


def load(tmp_path: Path, text: str) -> CallbridgeConfig:
    path = tmp_path / "callbridge.toml"
    path.write_text(text)
    return load_config(path)


def test_the_issue_s_model_loads(tmp_path: Path) -> None:
    config = load(tmp_path, PBX)
    assert [p.name for p in config.projects] == ["Sales"]
    assert config.originate_users[0].api_key == "crm"
    assert config.users[0].project == 1
    assert config.contexts[0].voice_url == "https://crm.example.com/context/welcome"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("project = 1\napi_key", "project = 7\napi_key"), "project 7 is not a [[projects]] id"),
        (('password = "secret"\nproject = 1', 'password = "secret"\nproject = 3'), "user '1001'"),
        (('api_key = "crm"', 'api_key = "other"'), "api_key 'other' is not an [[api_keys]] name"),
        (('voice_url = "https', 'voice_xml = "<Response/>"\nvoice_url = "https'), "exactly one"),
        (('voice_url = "https://', 'voice_url = "ftp://'), "http:// or https://"),
        (('name = "welcome"', 'name = "wel come"'), "context name"),
        (("id = 1\n", "id = 0\n"), "positive integer"),
        (('key = "your_api_key"', 'key = ""'), "must not be empty"),
        (("project = 1\napi_key", "agent_ring_timeout = 0\napi_key"), "greater than or equal"),
        (("project = 1\napi_key", "customer_ring_timeout = 601\napi_key"), "less than or equal"),
        (("project = 1\napi_key", "agent_ring_timeout = -5\napi_key"), "agent_ring_timeout"),
        (("project = 1\napi_key", 'status_callback = "ftp://x"\napi_key'), "status_callback must"),
        (("project = 1\napi_key", 'status_callback_method = "PUT"\napi_key'), "GET or POST"),
        (("project = 1\napi_key", 'status_callback_event = "hung"\napi_key'), "takes some of"),
        (("[[users]]", QUEUE.format(project=9) + "[[users]]"), "queue 'sales': project 9 is not"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")) as err:
        load(tmp_path, PBX.replace(*change))
    assert "your_api_pass" not in str(err.value)  # the originate user's secrets stay out


def test_ids_and_names_are_unique(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="project ids must be unique"):
        load(tmp_path, PBX + "[[projects]]\nid = 1\n")
    twice = PBX + '[[originate_users]]\nusername = "your_api_usr"\npassword = "x"\nkey = "y"\n'
    with pytest.raises(ConfigError, match="usernames must be unique"):
        load(tmp_path, twice)


def test_an_originate_user_s_calls_settings(tmp_path: Path) -> None:
    default = load(tmp_path, PBX).originate_users[0]
    assert (default.agent_ring_timeout, default.customer_ring_timeout) == (30.0, 60.0)
    assert default.status_callback is None
    settings = """agent_ring_timeout = 12.5
customer_ring_timeout = 45
status_callback = "https://crm.example.com/status"
status_callback_method = "get"
status_callback_event = "initiated answered completed"
api_key = "crm"
"""
    client = load(tmp_path, PBX.replace('api_key = "crm"', settings)).originate_users[0]
    assert (client.agent_ring_timeout, client.customer_ring_timeout) == (12.5, 45.0)
    assert client.status_callback == "https://crm.example.com/status"
    assert client.status_callback_method == "GET"
    assert client.status_callback_event == "initiated answered completed"


def test_a_queue_s_project_must_be_a_project(tmp_path: Path) -> None:
    queue = QUEUE.format(project=1)
    assert load(tmp_path, PBX + queue).queues[0].project == 1
    with pytest.raises(ConfigError, match=r"queue 'sales': project 2 is not a \[\[projects\]\] id"):
        load(tmp_path, PBX + QUEUE.format(project=2))

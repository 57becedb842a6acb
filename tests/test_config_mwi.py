"""The [mwi] section: defaults, bounds, and what the engine gets from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from callbridge.config import ConfigError, load_config
from callbridge.engine.message_waiting import SubscriptionLimits
from callbridge.main import engine_settings


def test_mwi_defaults_reach_the_engine(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("")
    assert engine_settings(load_config(path)).subscriptions == SubscriptionLimits(
        min_expires=60, max_expires=3600, max_subscriptions=10_000, max_per_user=8
    )
    path.write_text("[mwi]\nmin_expires = 30\nmax_expires = 600\nmax_per_user = 2\n")
    limits = engine_settings(load_config(path)).subscriptions
    assert (limits.min_expires, limits.max_expires, limits.max_per_user) == (30, 600, 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("min_expires = 700\nmax_expires = 600", "min_expires must not be above max_expires"),
        ("min_expires = 0", "min_expires"),
        ("max_subscriptions = 0", "max_subscriptions"),
        ("max_per_user = -1", "max_per_user"),
        ("max_expire = 5", "max_expire"),
    ],
)
def test_bad_mwi_values_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[mwi]\n{text}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)

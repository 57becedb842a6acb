from __future__ import annotations

import pytest

from callbridge.engine.originate_checks import (
    InvalidOriginate,
    check_originate,
    usable_caller_id,
    usable_display_name,
)
from callbridge.engine.routing import RoutingError


@pytest.mark.parametrize("caller_id", ["1001", "+4930123456", "alice.smith", "anonymous"])
def test_well_formed_caller_ids_pass(caller_id: str) -> None:
    check_originate(caller_id=caller_id, caller_name="Alice Smith", headers={"X-Campaign": "a"})


@pytest.mark.parametrize(
    ("caller_id", "caller_name", "headers"),
    [
        ("sip:1001@example.com", None, None),  # a URI where a user part belongs
        ("10 01", None, None),
        ("1001;transport=tcp", None, None),
        ("", None, None),
        ("1001", 'Eve" <sip:evil@x>', None),
        ("1001", "Eve\r\nVia: SIP/2.0/UDP evil", None),
        ("1001", None, {"X-Ok": "fine\r\nBYE sip:x SIP/2.0"}),
        ("1001", None, {"Call-ID": "stolen"}),
        ("1001", None, {"Bad Name": "x"}),
    ],
)
def test_what_would_break_the_invite_is_refused(
    caller_id: str, caller_name: str | None, headers: dict[str, str] | None
) -> None:
    with pytest.raises(InvalidOriginate):
        check_originate(caller_id=caller_id, caller_name=caller_name, headers=headers)


def test_a_refused_originate_is_a_routing_error_for_callers() -> None:
    assert issubclass(InvalidOriginate, RoutingError)


def test_an_inbound_callers_odd_identity_becomes_anonymous() -> None:
    assert usable_caller_id("1001") == "1001"
    assert usable_caller_id("a b") == "anonymous"
    assert usable_caller_id(None) == "anonymous"
    assert usable_display_name("Bob") == "Bob"
    assert usable_display_name('Bo"b') is None

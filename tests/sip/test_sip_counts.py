"""SipCounts: what /metrics reports of the SIP layer, bounded whatever peers send."""

from __future__ import annotations

from callbridge.sip.counts import OTHER, SipCounts


def test_unknown_methods_count_as_other_so_labels_stay_bounded() -> None:
    counts = SipCounts()
    for method in ("INVITE", "INVITE", "BYE", "XYZZY", "invite", "A" * 100):
        counts.request(method)
    counts.response(200)
    counts.response(200)
    counts.response(486)
    assert counts.requests == {"INVITE": 2, "BYE": 1, OTHER: 3}
    assert counts.responses == {200: 2, 486: 1}

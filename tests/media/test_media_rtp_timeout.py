"""RtpTimeout: the peer's silence, counted from the answer, not while the call is held."""

from __future__ import annotations

from callbridge.codecs.formats import PCMU
from callbridge.codecs.stream import RemoteMedia
from callbridge.media.rtp_timeout import RtpTimeout

TALKING = RemoteMedia(host="192.0.2.7", port=4000, codec=PCMU, dtmf_payload_type=None)
HOLDING = RemoteMedia(
    host="192.0.2.7", port=4000, codec=PCMU, dtmf_payload_type=None, receives=False
)


def test_fires_once_after_the_peer_is_silent_for_the_timeout() -> None:
    watch = RtpTimeout(seconds=10)
    watch.start(100.0)
    assert not watch.expired(now=105.0, remote=TALKING, packets_received=50)  # heard at 105
    assert not watch.expired(now=114.0, remote=TALKING, packets_received=50)
    assert watch.expired(now=115.0, remote=TALKING, packets_received=50)
    assert not watch.expired(now=200.0, remote=TALKING, packets_received=50)  # only once


def test_counts_from_the_answer_not_before() -> None:
    watch = RtpTimeout(seconds=10)
    assert not watch.expired(now=500.0, remote=TALKING, packets_received=0)  # unanswered
    watch.start(500.0)
    assert not watch.expired(now=509.0, remote=TALKING, packets_received=0)
    assert watch.expired(now=510.0, remote=TALKING, packets_received=0)


def test_a_held_call_never_times_out_and_its_timer_restarts_on_resume() -> None:
    watch = RtpTimeout(seconds=10)
    watch.start(0.0)
    for now in (5.0, 50.0, 500.0):
        assert not watch.expired(now=now, remote=HOLDING, packets_received=0)
    assert not watch.expired(now=509.0, remote=TALKING, packets_received=0)
    assert watch.expired(now=510.0, remote=TALKING, packets_received=0)


def test_off_when_zero_or_none() -> None:
    for seconds in (0, None):
        watch = RtpTimeout(seconds=seconds)
        watch.start(0.0)
        assert not watch.expired(now=1e9, remote=TALKING, packets_received=0)

"""The real peers' fixtures (baresip) for the media library's real-server test."""

from peers.conftest import baresip  # noqa: F401

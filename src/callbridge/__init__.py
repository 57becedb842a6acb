"""Callbridge: a self-hosted programmable-voice server."""

"""The switch: one ringer, one bridge, and what a caller hears while targets ring.

- :mod:`.ringer` rings groups of targets (in parallel within a group, groups in sequence).
- :mod:`.progress` passes the targets' progress to the caller (180, early media, ringback).
- :mod:`.ringback` is the ringback tone.
- :mod:`.bridge` connects the caller to the target that answered and ends them together.
"""

"""``<Record>`` on a leg: the beep, the recording until a finish key, ``maxLength`` or the
caller's hang-up, and the file made a URL by the recording store."""

from __future__ import annotations

import asyncio

from callbridge.callflow.ports import AudioLoader, LegPort, RecordingStore, StoredRecording
from callbridge.callflow.verbs import Record


async def record_message(
    leg: LegPort, record: Record, *, recorder: RecordingStore, audio: AudioLoader
) -> tuple[StoredRecording, str]:
    """The stored recording and how it ended: the finish key pressed, ``"hangup"``, or
    ``""`` (``max_length``)."""
    if record.play_beep:
        await leg.play(audio.beep())
    leg.flush_digits()
    path = recorder.new_path(leg.id)
    leg.record(path)
    try:
        key = await _wait_for_record_end(leg, record)
    finally:
        leg.stop_recording()
    return await recorder.publish(path), key


async def _wait_for_record_end(leg: LegPort, record: Record) -> str:
    """Until a finish key (returned), ``max_length`` or the end of the leg ('hangup')."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + record.max_length
    while (remaining := deadline - loop.time()) > 0:
        key = await leg.collect_digits(max_digits=1, timeout=remaining, finish_on_key="")
        if leg.ended is not None:
            return "hangup"
        if not key or key in record.finish_on_key:
            return key
    return ""

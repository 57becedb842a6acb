"""The log's two formats (callbridge.log_format), the call and leg context
(callbridge.log_context) and the CDR line (callbridge.calls.cdr)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from callbridge.calls.cdr import CALLS_ENDED, record_call_end
from callbridge.log_bounds import MAX_FIELD, BoundedFields
from callbridge.log_context import CALL_SID, LEG_ID, bind_call, current, start_in_leg
from callbridge.log_format import JsonFormatter, TextFormatter, configure_logging
from callbridge.log_redaction import RedactKeys
from callbridge.store.records import CallRecord
from callbridge.webhooks.params import CallOutcome


class Capture:
    """A handler on the ``callbridge`` logger writing in a format, with the server's filters."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.out = io.StringIO()
        self.handler = logging.StreamHandler(self.out)
        self.handler.setFormatter(formatter)
        self.handler.addFilter(RedactKeys())
        self.handler.addFilter(BoundedFields())

    @property
    def lines(self) -> list[str]:
        return self.out.getvalue().splitlines()

    def json(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def capture() -> Iterator[Capture]:
    capture = Capture(JsonFormatter())
    logger = logging.getLogger("callbridge")
    level = logger.level
    logger.addHandler(capture.handler)
    logger.setLevel(logging.DEBUG)
    yield capture
    logger.removeHandler(capture.handler)
    logger.setLevel(level)


log = logging.getLogger("callbridge.test_log_format")


def test_a_json_line_is_one_object_with_time_level_logger_message(capture: Capture) -> None:
    log.warning("two\nlines and a \u2028 separator, %s", "ünï")
    [line] = capture.lines
    assert line.isascii()
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "callbridge.test_log_format"
    assert entry["message"] == "two\nlines and a \u2028 separator, ünï"
    assert datetime.fromisoformat(str(entry["time"])).tzinfo is not None
    assert "context" not in entry  # nothing bound outside a call or request


def test_redaction_and_bounds_hold_in_json(capture: Capture) -> None:
    log.info("GET %s", "/api/v2/calls?apikey=s3cret-key-0123&x=" + "y" * 5000)
    try:
        raise ValueError("/rest/1/s3cret-webhook-key/voximplant.line.get")
    except ValueError:
        log.exception("failed")
    first, second = capture.json()
    assert "s3cret" not in json.dumps(first)
    assert "apikey=[redacted]" in str(first["message"])
    assert len(str(first["message"])) < MAX_FIELD + 100
    assert "Traceback" in str(second["exception"])
    assert "s3cret" not in str(second["exception"])


async def test_a_calls_lines_carry_its_sid_and_leg_and_its_tasks_inherit_them(
    capture: Capture,
) -> None:
    async def leg_work() -> None:
        log.info("leg line")

    async def call_task() -> None:
        bind_call("CA1")
        log.info("call line")
        tasks: list[asyncio.Task[None]] = []
        start_in_leg(
            "leg-7", lambda: tasks.append(asyncio.get_running_loop().create_task(leg_work()))
        )
        assert LEG_ID.get() is None  # the call's own context is not the leg's
        await asyncio.gather(*tasks)

    await asyncio.create_task(call_task())
    log.info("outside")
    assert CALL_SID.get() is None  # the test's own context is untouched
    contexts = [entry.get("context") for entry in capture.json()]
    assert contexts == [{"call_sid": "CA1"}, {"call_sid": "CA1", "leg_id": "leg-7"}, None]


def test_the_text_format_puts_the_context_before_a_traceback() -> None:
    capture = Capture(TextFormatter())
    record = logging.LogRecord("callbridge.x", logging.ERROR, __file__, 1, "boom", None, None)
    try:
        raise RuntimeError("inner")
    except RuntimeError:
        record.exc_info = sys.exc_info()

    async def in_call() -> str:
        bind_call("CA9", leg="leg-1")
        return capture.handler.format(record)

    text = asyncio.run(in_call())
    first, *rest = text.splitlines()
    assert first.endswith("ERROR callbridge.x: boom [call_sid=CA9 leg_id=leg-1]")
    assert rest[0].startswith("Traceback")
    assert current() == {}


def test_configure_logging_replaces_the_root_handlers() -> None:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        configure_logging(kind="json", level="warning")
        [handler] = root.handlers
        assert isinstance(handler.formatter, JsonFormatter)
        assert root.level == logging.WARNING
        configure_logging(kind="text", level="DEBUG")
        [handler] = root.handlers
        assert isinstance(handler.formatter, TextFormatter)
    finally:
        root.handlers[:] = saved
        root.setLevel(level)


def test_a_call_ends_with_one_cdr_line_and_is_counted(capture: Capture) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    call = CallRecord(
        sid="CAcdr",
        api_key_id=None,
        parent_sid=None,
        direction="outbound",
        from_="15550001",
        to="15550100",
        status="completed",
        url=None,
        method="POST",
        status_callback=None,
        status_callback_method="POST",
        status_callback_events=(),
        secret_key=None,
        optional=None,
        created_at=at,
        answered_at=at,
        ended_at=at,
        duration=42,
        hangup_cause="BYE",
        hangup_by="remote",
        sip_code=None,
        recording_url=None,
        node="n",
    )
    before = CALLS_ENDED["completed"]
    record_call_end(call, CallOutcome(outcome="completed", sip_code=200))
    assert CALLS_ENDED["completed"] == before + 1
    [entry] = capture.json()
    assert entry["logger"] == "callbridge.cdr"
    assert entry["fields"] == {
        "call_sid": "CAcdr",
        "parent_call_sid": None,
        "from": "15550001",
        "to": "15550100",
        "direction": "outbound",
        "outcome": "completed",
        "sip_code": 200,
        "duration": 42,
        "cause": "BYE",
    }
    assert entry["message"] == (
        "CDR call_sid=CAcdr from=15550001 to=15550100 direction=outbound outcome=completed "
        "sip_code=200 duration=42 cause=BYE"
    )

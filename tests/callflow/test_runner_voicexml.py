"""The runner driving documents written in the voice-XML dialect, end to end."""

from __future__ import annotations

from collections.abc import Mapping

from callflow_fakes import FakeAudio, FakeDialer, FakeLeg, FakeRecorder, FakeSleep

from callbridge.callflow import CallflowRunner, Completed, Failed
from callbridge.callflow.ports import DialResult
from callbridge.dialects import parse_voice_xml

APP = "http://www.didforsale.com/apidemo/9499300360-authenticate.xml"

DOCUMENTS = {
    APP: b"""<?xml version="1.0" encoding="UTF-8"?>
        <Response>
          <Say>Your pin is 8 9 70</Say>
          <Gather numDigits="1" action="confirm.php"><Say>Press 1 to repeat</Say></Gather>
        </Response>""",
    "http://www.didforsale.com/apidemo/confirm.php": b"<Response><Redirect>broken.xml</Redirect>"
    b"</Response>",
    "http://www.didforsale.com/apidemo/broken.xml": b"<Response><Speak>hi</Speak></Response>",
}


class XmlApp:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []

    async def fetch(self, url: str, method: str, params: Mapping[str, str]) -> bytes:
        self.requests.append((url, dict(params)))
        return DOCUMENTS[url]


def runner(leg: FakeLeg, app: XmlApp) -> CallflowRunner:
    return CallflowRunner(
        leg=leg,
        fetcher=app,
        dialer=FakeDialer(DialResult(status="failed", duration=0, answered_target=None)),
        recorder=FakeRecorder(),
        audio=FakeAudio(),
        translate=parse_voice_xml,
        sleep=FakeSleep(leg.calls),
    )


async def test_the_pin_call_says_the_pin() -> None:
    leg = FakeLeg()
    assert await runner(leg, XmlApp()).run_url(APP) == Completed()
    assert ("say", "Your pin is 8 9 70", None) in leg.calls


async def test_an_invalid_document_behind_an_action_fails_the_call() -> None:
    leg, app = FakeLeg(digits=("1",)), XmlApp()
    outcome = await runner(leg, app).run_url(APP)
    assert isinstance(outcome, Failed)
    assert "unknown verb <Speak>" in outcome.error
    assert [url for url, _ in app.requests] == list(DOCUMENTS)
    assert app.requests[1][1] == {"Digits": "1"}
    assert leg.calls[-2][1] == "An application error occurred. Goodbye."

"""Small fakes of the runner's ports: they record what the runner asks of them."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callbridge.callflow.errors import FetchError, InvalidProgram
from callbridge.callflow.ports import DialResult, LegPort, StoredRecording
from callbridge.callflow.verbs import Dial, Program
from callbridge.engine.events import Ended, EndReason, LegEndedError, LegState, Party


@dataclass(frozen=True)
class Tone:
    """An AudioSource standing for the audio at ``url``."""

    url: str

    def read_frame(self) -> bytes | None:
        return None


class FakeLeg:
    """Records every call in ``calls``; ``digits`` are what collect_digits returns, in turn.

    ``hang_up_on`` names a call ('say', 'play', 'collect', ...) after which the peer hangs up;
    ``block_on`` names a call that never returns (until cancelled).
    """

    def __init__(
        self,
        *,
        digits: tuple[str, ...] = (),
        state: LegState = LegState.ANSWERED,
        hang_up_on: str | None = None,
        block_on: str | None = None,
    ) -> None:
        self.id = "leg-1"
        self.state = state
        self.calls: list[tuple[Any, ...]] = []
        self._digits = list(digits)
        self._hang_up_on = hang_up_on
        self._block_on = block_on
        self._ended: Ended | None = None
        self._ended_event = asyncio.Event()

    @property
    def ended(self) -> Ended | None:
        return self._ended

    def remote_hangup(self) -> None:
        self._end(Ended(EndReason.HUNG_UP, Party.REMOTE))

    def _end(self, ended: Ended) -> None:
        if self._ended is None:
            self._ended = ended
            self.state = LegState.ENDED
            self._ended_event.set()

    async def _called(self, name: str, *args: Any, live: bool = True) -> None:
        if live and self._ended is not None:
            raise LegEndedError(self._ended)
        self.calls.append((name, *args))
        if name == self._block_on:
            await asyncio.Event().wait()
        if name == self._hang_up_on:
            self.remote_hangup()

    async def wait_ended(self) -> Ended:
        await self._ended_event.wait()
        assert self._ended is not None
        return self._ended

    async def answer(self) -> None:
        await self._called("answer")
        self.state = LegState.ANSWERED

    async def hangup(
        self, reason: EndReason = EndReason.HUNG_UP, sip_code: int | None = None, detail: str = ""
    ) -> Ended:
        await self._called("hangup", reason, sip_code, live=False)
        self._end(Ended(reason, Party.LOCAL, sip_code, detail))
        assert self._ended is not None
        return self._ended

    async def play(self, source: Any) -> bool:
        await self._called("play", source.url)
        return self._ended is None

    async def say(self, text: str, voice: str | None = None) -> bool:
        await self._called("say", text, voice)
        return self._ended is None

    async def send_dtmf(self, digits: str) -> None:
        await self._called("dtmf", digits)

    async def collect_digits(
        self,
        *,
        max_digits: int,
        timeout: float,
        finish_on_key: str = "#",
    ) -> str:
        await self._called("collect", max_digits, finish_on_key, live=False)
        return self._digits.pop(0) if self._digits and self._ended is None else ""

    def flush_digits(self) -> None:
        self.calls.append(("flush",))

    def record(self, path: Path) -> None:
        if self._ended is not None:
            raise LegEndedError(self._ended)
        self.calls.append(("record", path))

    def stop_recording(self) -> None:
        self.calls.append(("stop_recording",))


class FakeApp:
    """Document fetcher and translator in one: ``documents`` maps URLs to programs, or to
    the error fetching (FetchError) or translating (InvalidProgram) them raises."""

    def __init__(self, documents: Mapping[str, Program | Exception] | None = None) -> None:
        self.documents = dict(documents or {})
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    async def fetch(self, url: str, method: str, params: Mapping[str, str]) -> bytes:
        self.requests.append((url, method, dict(params)))
        document = self.documents.get(url)
        if document is None or isinstance(document, FetchError):
            raise document or FetchError(f"404 for {url}")
        return url.encode()

    def translate(self, body: bytes, url: str) -> Program:
        document = self.documents[body.decode()]
        if isinstance(document, Exception):
            raise document
        return document


class FakeDialer:
    def __init__(self, result: DialResult) -> None:
        self.result = result
        self.dials: list[tuple[LegPort, Dial]] = []

    async def dial(self, leg: LegPort, dial: Dial) -> DialResult:
        self.dials.append((leg, dial))
        return self.result


class FakeRecorder:
    def __init__(self) -> None:
        self.published: list[Path] = []

    def new_path(self, leg_id: str) -> Path:
        return Path(f"/recordings/{leg_id}.wav")

    async def publish(self, path: Path) -> StoredRecording:
        self.published.append(path)
        return StoredRecording(url=f"https://files.example{path}", duration=4.4)


class FakeAudio:
    async def load(self, url: str) -> Tone:
        if "missing" in url:
            raise FetchError(f"404 for {url}")
        return Tone(url)

    def beep(self) -> Tone:
        return Tone("beep")


class FakeSleep:
    """Returns at once, logging ('sleep', seconds) into ``log``; ``block`` never returns."""

    def __init__(self, log: list[tuple[Any, ...]], *, block: bool = False) -> None:
        self.log = log
        self.block = block

    async def __call__(self, seconds: float) -> None:
        self.log.append(("sleep", seconds))
        if self.block:
            await asyncio.Event().wait()
        await asyncio.sleep(0)


class InvalidFake(InvalidProgram):
    """What the fake translator raises for a broken document."""

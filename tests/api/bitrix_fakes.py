"""The lines and voices the API tests' app is given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from callbridge.calls.lines import Line
from callbridge.media.tts import Voice

SALES = Line(id="reg1332", name="Sales", users=("1001", "1002"), number="+15550123")
OTHERS_ONLY = Line(id="sip7", name="Office PBX", users=("1003",), api_keys=("other",))
LINES = (SALES, OTHERS_ONLY)
VOICES = (
    Voice(id="ru", name="Russian", language="ru"),
    Voice(id="en-us", name="English_(America)", language="en-us"),
)


@dataclass
class FakeVoices:
    """Implements the voice catalog; counts how often it is asked."""

    listed: Sequence[Voice] = VOICES
    asked: list[None] = field(default_factory=list)

    async def voices(self) -> list[Voice]:
        self.asked.append(None)
        return list(self.listed)

"""A voice document plays a library announcement with <Play>announcement:ID</Play>."""

from __future__ import annotations

import pytest

from callbridge.callflow.verbs import Gather, Play
from callbridge.dialects.errors import InvalidDocument
from callbridge.dialects.voicexml import parse_voice_xml


def test_play_takes_an_announcement_id_unresolved() -> None:
    program = parse_voice_xml(
        b"<Response><Play loop='2'> announcement:7684 </Play>"
        b"<Gather><Play>announcement:menu_1</Play></Gather></Response>",
        "https://app.example/doc",
    )
    assert program.verbs[0] == Play(url="announcement:7684", loop=2)
    gather = program.verbs[1]
    assert isinstance(gather, Gather)
    assert gather.prompts == (Play(url="announcement:menu_1"),)


@pytest.mark.parametrize("reference", ["announcement:", "announcement:../x", "announcement:a/b"])
def test_a_bad_announcement_id_is_an_invalid_document(reference: str) -> None:
    with pytest.raises(InvalidDocument, match="announcement id"):
        parse_voice_xml(f"<Response><Play>{reference}</Play></Response>".encode(), "https://a/")

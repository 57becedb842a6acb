"""A real phone (baresip with its mwi module) subscribed for message waiting sees it turn
on when a message arrives and off once it is read (the counts driven through the
MessageCounts port, as the voicemail store will)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mwi_setup import MWI_HOST, MWI_PORT, Mailboxes

from callbridge.engine.engine import Engine
from callbridge.sip.message_summary import parse_message_summary
from mwi.mwi_phone import MwiPhone
from peers.conftest import baresip_host, require_baresip

pytestmark = pytest.mark.peers


async def test_baresip_sees_message_waiting_on_then_off(
    mwi_engine: Engine, mailboxes: Mailboxes, tmp_path: Path
) -> None:
    require_baresip()
    mwi = mwi_engine.message_waiting
    phone = MwiPhone(
        tmp_path / "phone",
        host=baresip_host(),
        user="1001",
        registrar=f"{MWI_HOST}:{MWI_PORT}",
        password="secret1001",
    )
    async with phone:
        await phone.wait_event("REGISTER_OK")
        first = await phone.wait_event("MWI_NOTIFY", timeout=10)
        assert not parse_message_summary(first["param"]).waiting
        (subscription,) = mwi.subscriptions_of("1001")
        assert subscription.peer.transport == "udp"  # baresip 1.0 subscribes over UDP only

        mailboxes.of["1001"] = (1, 0)  # a message arrives
        mwi.mailbox_changed(["1001"])
        on = parse_message_summary((await phone.wait_event("MWI_NOTIFY"))["param"])
        assert (on.waiting, on.new, on.old) == (True, 1, 0)

        mailboxes.of["1001"] = (0, 1)  # it is read
        mwi.mailbox_changed(["1001"])
        off = parse_message_summary((await phone.wait_event("MWI_NOTIFY"))["param"])
        assert (off.waiting, off.new, off.old) == (False, 0, 1)
        await phone.stop(timeout=5)  # quitting, it unsubscribes (Expires: 0)
    assert mwi.active == 0
    assert "subscription for" not in phone.log_text()  # no failure reported by its mwi module

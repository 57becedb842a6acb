"""MwiPhone: baresip with its mwi module, for the message-waiting tests."""

from __future__ import annotations

from peers.baresip import Baresip


class MwiPhone(Baresip):
    """baresip with ``mwi.so`` loaded and ``mwi=yes`` on its account: it subscribes to
    message-summary once registered and reports each NOTIFY's body as MWI_NOTIFY."""

    def write_config(self) -> None:
        super().write_config()
        config = self.config_dir / "config"
        config.write_text(config.read_text() + "module_app mwi.so\n")

    def account_line(self) -> str:
        return super().account_line() + ";mwi=yes"

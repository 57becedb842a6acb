"""A bare UDP peer for tests: captures RTP packets sent to it, can send raw packets."""

from __future__ import annotations

import asyncio
from typing import Any

from callbridge.rtp.packet import RtpHeader, parse_header


class RtpCapture(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.packets: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(cls) -> RtpCapture:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(cls, local_addr=("127.0.0.1", 0))
        return protocol

    @property
    def port(self) -> int:
        assert self.transport is not None
        port: int = self.transport.get_extra_info("sockname")[1]
        return port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.packets.append(data)

    def headers(self) -> list[RtpHeader]:
        return [parse_header(p) for p in self.packets]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

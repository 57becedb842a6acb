"""A message-summary subscriber on a plain UDP socket, for tests that must see every
NOTIFY and choose how to answer it (or not), and send what no phone sends."""

from __future__ import annotations

import asyncio
import itertools
import socket

from aiosipua import SipRequest, SipResponse
from aiosipua.auth import SipDigestAuth, answer_challenge

from callbridge.sip.message import build_response, parse_message

_numbers = itertools.count(1)


class Subscriber:
    """One UDP socket on ``host`` talking to the engine at ``server``."""

    def __init__(self, host: str, server: tuple[str, int], *, user: str, password: str) -> None:
        self.host, self.server, self.user, self.password = host, server, user, password
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self.call_id = f"mwi-{next(_numbers)}@{host}"
        self.from_tag = f"s{next(_numbers)}"
        self.to_tag: str | None = None
        self.cseq = 0
        self.answer_notifies: int | None = 200  # None: leave NOTIFYs unanswered
        self.notifies: asyncio.Queue[SipRequest] = asyncio.Queue()
        self.responses: asyncio.Queue[SipResponse] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Subscriber:
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        self.sock.close()

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        seen: set[str] = set()
        while True:
            message = parse_message(await loop.sock_recv(self.sock, 70000))
            if isinstance(message, SipResponse):
                await self.responses.put(message)
                continue
            if self.answer_notifies is not None:
                self.sock.sendto(bytes(build_response(message, self.answer_notifies)), self.server)
            branch = message.get_header_values("via")[0]
            if branch not in seen:  # a retransmission is not another NOTIFY
                seen.add(branch)
                await self.notifies.put(message)

    def request(
        self,
        *,
        uri_user: str | None = None,
        expires: int | str | None = 600,
        event: str | None = "message-summary",
        authorization: str | None = None,
        in_dialog: bool = False,
        headers: dict[str, str] | None = None,
        body: str = "",
    ) -> SipRequest:
        self.cseq += 1
        server = f"{self.server[0]}:{self.server[1]}"
        target = self.user if uri_user is None else uri_user
        uri = f"sip:{target}@{server}" if target else f"sip:{server}"
        to_tag = f";tag={self.to_tag}" if in_dialog and self.to_tag else ""
        lines = [
            f"SUBSCRIBE {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.host}:{self.port};branch=z9hG4bK-mwi-{next(_numbers)}",
            f"From: <sip:{self.user}@{self.server[0]}>;tag={self.from_tag}",
            f"To: <sip:{self.user}@{self.server[0]}>{to_tag}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} SUBSCRIBE",
            f"Contact: <sip:{self.user}@{self.host}:{self.port}>",
            "Max-Forwards: 70",
        ]
        if event is not None:
            lines.append(f"Event: {event}")
        if expires is not None:
            lines.append(f"Expires: {expires}")
        if authorization:
            lines.append(f"Authorization: {authorization}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        lines.append(f"Content-Length: {len(body.encode())}")
        message = parse_message(("\r\n".join(lines) + "\r\n\r\n" + body).encode())
        assert isinstance(message, SipRequest)
        return message

    def send(self, request: SipRequest | bytes) -> None:
        self.sock.sendto(request if isinstance(request, bytes) else bytes(request), self.server)

    async def response(self, timeout: float = 3.0) -> SipResponse:
        return await asyncio.wait_for(self.responses.get(), timeout)

    async def notify(self, timeout: float = 3.0) -> SipRequest:
        return await asyncio.wait_for(self.notifies.get(), timeout)

    async def no_notify(self, wait: float = 0.5) -> None:
        try:
            notify = await asyncio.wait_for(self.notifies.get(), wait)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected NOTIFY: {notify.get_header('subscription-state')}")

    async def subscribe(self, **kwargs: object) -> SipResponse:
        """Send a SUBSCRIBE, answer the 401 with the credentials; the final response.
        In a dialog (``in_dialog=True``) nothing is challenged: the first answer."""
        self.send(self.request(**kwargs))  # type: ignore[arg-type]
        response = await self.response()
        if response.status_code != 401:
            self._learn(response)
            return response
        request = self.request(authorization=self._answer(response, kwargs), **kwargs)  # type: ignore[arg-type]
        self.send(request)
        final = await self.response()
        self._learn(final)
        return final

    def _answer(self, challenge: SipResponse, kwargs: dict[str, object]) -> str:
        uri = self.request(**kwargs).uri  # type: ignore[arg-type]
        self.cseq -= 1
        answer = answer_challenge(
            SipDigestAuth(self.user, self.password), challenge, 401, "SUBSCRIBE", uri
        )
        assert answer is not None
        return answer[1]

    def _learn(self, response: SipResponse) -> None:
        if response.status_code == 200 and self.to_tag is None:
            to = response.to_addr
            self.to_tag = to.tag if to else None

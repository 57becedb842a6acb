"""The HTTP worker's own log lines (a child process writing to the server's standard error)
show no credentials a URL carries: call-control URLs with basic auth (``user:pass@``) and
the ``apikey=`` a GET status callback carries (seed-001's ``secretKey``); nor the
signing secret of a signed request (only its signature crosses to the worker)."""

from __future__ import annotations

import socket

import pytest

from callbridge.callflow.errors import FetchError
from callbridge.calls.http_fetch import fetch_bounded
from callbridge.httpclient.address_policy import AddressPolicy
from callbridge.httpclient.client import HttpFailure
from callbridge.httpclient.process import ProcessHttpClient
from webhook_receiver import LOOPBACK_ALLOWED

PASSWORD = "hunter2-basic-auth"
SIGNING_SECRET = "whsec-signing-secret-0123456789"
SECRET_KEY = "s3cret-callback-key"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, never listening: connections are refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_a_refused_connection_is_logged_without_the_urls_credentials(
    capfd: pytest.CaptureFixture[str], log_format: str
) -> None:
    url = f"http://app:{PASSWORD}@127.0.0.1:{closed_port()}/events?apikey={SECRET_KEY}&x=1"
    async with ProcessHttpClient(
        policy=LOOPBACK_ALLOWED, timeout=5.0, log_format=log_format
    ) as client:
        with pytest.raises(HttpFailure):
            await client.fetch("GET", url, max_bytes=1000)
        with pytest.raises(FetchError):  # a signed document fetch (X-Callbridge-Signature)
            await fetch_bounded(
                client,
                url,
                method="GET",
                params={"CallSid": "CA1"},
                max_bytes=1000,
                timeout=5.0,
                signing_secret=SIGNING_SECRET,
            )
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "no answer" in line]
    assert lines, f"the worker logged no line for the failure: {err!r}"
    assert len(lines) == 2
    assert PASSWORD not in err
    assert SECRET_KEY not in err
    assert SIGNING_SECRET not in err
    assert "[redacted]@127.0.0.1" in lines[0]
    assert "apikey=[redacted]" in lines[0]


async def test_a_blocked_address_is_logged_without_the_urls_credentials(
    capfd: pytest.CaptureFixture[str],
) -> None:
    deny_loopback = AddressPolicy.from_entries()
    url = f"https://ops:{PASSWORD}@127.0.0.1:9/hook?auth={SECRET_KEY}"
    async with ProcessHttpClient(policy=deny_loopback, timeout=5.0) as client:
        with pytest.raises(HttpFailure):
            await client.send("POST", url, headers=(), body=b"CallSid=CA1")
    err = capfd.readouterr().err
    assert "deny_networks" in err or "127.0.0.0/8" in err, err
    assert PASSWORD not in err
    assert SECRET_KEY not in err

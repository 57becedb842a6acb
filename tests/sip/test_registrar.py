"""Registrar behaviour (RFC 3261 §10.3) with real digest answers."""

from __future__ import annotations

from aiosipua import SipRequest, SipResponse
from aiosipua.auth import SipDigestAuth, answer_challenge

from callbridge.sip.auth import DigestAuthenticator
from callbridge.sip.message import Peer
from callbridge.sip.registrar import MAX_DELAY, MIN_EXPIRES, Registrar

PEER = Peer(transport="udp", host="127.0.20.1", port=5070)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _register(
    contact: str = "<sip:1001@127.0.20.1:5070>", expires: str | None = None, cseq: int = 1
) -> SipRequest:
    request = SipRequest(method="REGISTER", uri="sip:callbridge")
    request.add_header("Via", "SIP/2.0/UDP 127.0.20.1:5070;branch=z9hG4bKabc;rport")
    request.add_header("From", "<sip:1001@callbridge>;tag=f1")
    request.add_header("To", "<sip:1001@callbridge>")
    request.add_header("Call-ID", "reg-1")
    request.add_header("CSeq", f"{cseq} REGISTER")
    request.add_header("Contact", contact)
    if expires is not None:
        request.add_header("Expires", expires)
    return request


def _authorised(registrar: Registrar, request: SipRequest, password: str = "secret") -> SipResponse:
    challenge = registrar.handle(request, PEER).response
    assert challenge.status_code == 401
    header = answer_challenge(
        SipDigestAuth("1001", password), challenge, 401, "REGISTER", request.uri
    )
    assert header is not None
    request.set_header(*header)
    return registrar.handle(request, PEER).response


def _registrar(clock: Clock | None = None) -> Registrar:
    clock = clock or Clock()
    return Registrar(
        passwords={"1001": "secret"},
        authenticator=DigestAuthenticator(realm="callbridge"),
        clock=clock,
    )


def test_register_with_right_password_binds_contact() -> None:
    registrar = _registrar()
    response = _authorised(registrar, _register())
    assert response.status_code == 200
    assert "expires=3600" in (response.get_header("contact") or "")
    [binding] = registrar.lookup("1001")
    assert binding.peer == PEER
    assert binding.contact == "sip:1001@127.0.20.1:5070"


def test_wrong_password_refused_and_slowed_down() -> None:
    registrar = _registrar()
    delays = []
    for _ in range(5):
        request = _register()
        challenge = registrar.handle(request, PEER).response
        header = answer_challenge(
            SipDigestAuth("1001", "bad"), challenge, 401, "REGISTER", request.uri
        )
        assert header is not None
        request.set_header(*header)
        answer = registrar.handle(request, PEER)
        assert answer.response.status_code == 401
        delays.append(answer.delay)
    assert delays[0] == 0
    assert delays[-1] > delays[2] > 0
    assert registrar.lookup("1001") == []


def test_expiry_refresh_several_contacts_and_unregister() -> None:
    clock = Clock()
    registrar = _registrar(clock)
    _authorised(registrar, _register(expires="120"))
    _authorised(registrar, _register(contact="<sip:1001@127.0.20.9:5080>", cseq=2))
    assert len(registrar.lookup("1001")) == 2
    clock.now += 121
    assert [b.contact for b in registrar.lookup("1001")] == ["sip:1001@127.0.20.9:5080"]
    response = _authorised(registrar, _register(contact="*", expires="0", cseq=3))
    assert response.status_code == 200
    assert registrar.lookup("1001") == []


def test_too_brief_interval_gets_423() -> None:
    registrar = _registrar()
    response = _authorised(registrar, _register(expires="5"))
    assert response.status_code == 423
    assert response.get_header("min-expires") == str(MIN_EXPIRES)


def test_registering_another_users_aor_is_forbidden() -> None:
    registrar = Registrar(
        passwords={"1001": "secret", "1002": "other"},
        authenticator=DigestAuthenticator(realm="callbridge"),
    )
    request = _register()
    request.set_header("To", "<sip:1002@callbridge>")
    assert _authorised(registrar, request).status_code == 403


def test_back_off_stays_bounded_after_thousands_of_failures() -> None:
    """Issue 15 (3): after 1027 failures in 60 s, 0.5 * 2.0 ** (count - 3) overflowed and
    every later REGISTER from that address crashed its handler."""
    registrar = _registrar()
    bogus = 'Digest username="1001", realm="callbridge", nonce="x.y.z", uri="sip:c", response="0"'
    delays = []
    for _ in range(3000):
        request = _register()
        request.add_header("Authorization", bogus)
        answer = registrar.handle(request, PEER)
        assert answer.response.status_code == 401
        delays.append(answer.delay)
    assert max(delays) == delays[-1] == MAX_DELAY
    # the real phone at that address still registers (and is not held back any more)
    assert _authorised(registrar, _register()).status_code == 200

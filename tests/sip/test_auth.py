"""Server digest auth checked against aiosipua's client answers (RFC 2617 §3.2.2)."""

from __future__ import annotations

from aiosipua import SipResponse
from aiosipua.auth import SipDigestAuth, answer_challenge

from callbridge.sip.auth import NONCE_LIFETIME, PRUNE_ABOVE, AuthOutcome, DigestAuthenticator
from callbridge.sip.guesses import GuessLimits, GuessThrottle

PEER = "127.0.0.8"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _answer(auth: DigestAuthenticator, user: str, password: str, method: str = "REGISTER") -> str:
    challenge = SipResponse(status_code=401, reason_phrase="Unauthorized")
    challenge.add_header("WWW-Authenticate", auth.challenge())
    header = answer_challenge(
        SipDigestAuth(user, password), challenge, 401, method, "sip:callbridge"
    )
    assert header is not None
    return header[1]


def _passwords(user: str) -> str | None:
    return {"1001": "secret"}.get(user)


def test_right_password_is_accepted() -> None:
    auth = DigestAuthenticator(realm="callbridge")
    result = auth.verify(
        _answer(auth, "1001", "secret"), method="REGISTER", password_for=_passwords, source=PEER
    )
    assert result.outcome is AuthOutcome.OK
    assert result.username == "1001"


def test_wrong_password_unknown_user_and_wrong_method_are_rejected() -> None:
    auth = DigestAuthenticator(realm="callbridge")
    wrong = auth.verify(
        _answer(auth, "1001", "nope"), method="REGISTER", password_for=_passwords, source=PEER
    )
    unknown = auth.verify(
        _answer(auth, "9", "secret"), method="REGISTER", password_for=_passwords, source=PEER
    )
    method = auth.verify(
        _answer(auth, "1001", "secret"), method="INVITE", password_for=_passwords, source=PEER
    )
    assert {wrong.outcome, unknown.outcome, method.outcome} == {AuthOutcome.REJECTED}


def test_missing_header() -> None:
    auth = DigestAuthenticator(realm="callbridge")
    assert (
        auth.verify(None, method="REGISTER", password_for=_passwords, source=PEER).outcome
        is AuthOutcome.MISSING
    )


def test_old_nonce_is_stale_and_forged_nonce_rejected() -> None:
    clock = FakeClock()
    auth = DigestAuthenticator(realm="callbridge", clock=clock)
    answer = _answer(auth, "1001", "secret")
    clock.now += NONCE_LIFETIME + 1
    assert (
        auth.verify(answer, method="REGISTER", password_for=_passwords, source=PEER).outcome
        is AuthOutcome.STALE
    )
    other = DigestAuthenticator(realm="callbridge")
    forged = other.verify(answer, method="REGISTER", password_for=_passwords, source=PEER)
    assert forged.outcome is AuthOutcome.REJECTED


def test_same_secret_accepts_nonce_across_instances() -> None:
    first = DigestAuthenticator(realm="callbridge", secret=b"k" * 32)
    second = DigestAuthenticator(realm="callbridge", secret=b"k" * 32)
    answer = _answer(first, "1001", "secret")
    assert (
        second.verify(answer, method="REGISTER", password_for=_passwords, source=PEER).outcome
        is AuthOutcome.OK
    )


def _answer_with_count(
    auth: DigestAuthenticator, nonce: str, nc: int | None, *, password: str = "secret"
) -> str:
    """An answer to ``nonce`` with nonce count ``nc`` (``None``: without qop, RFC 2069)."""
    params = {"username": "1001", "realm": "callbridge", "nonce": nonce, "uri": "sip:callbridge"}
    if nc is not None:
        params |= {"qop": "auth", "nc": f"{nc:08x}", "cnonce": "c0ffee"}
    params["response"] = auth.expected_response(params, method="REGISTER", password=password)
    return "Digest " + ", ".join(
        f"{k}={v}" if k in ("qop", "nc") else f'{k}="{v}"' for k, v in params.items()
    )


def _outcome(auth: DigestAuthenticator, header: str) -> AuthOutcome:
    return auth.verify(header, method="REGISTER", password_for=_passwords, source=PEER).outcome


def test_a_replayed_answer_is_refused_and_a_higher_count_accepted() -> None:
    auth = DigestAuthenticator(realm="callbridge")
    answer = _answer(auth, "1001", "secret")
    assert _outcome(auth, answer) is AuthOutcome.OK
    assert _outcome(auth, answer) is AuthOutcome.REJECTED  # the same answer again
    nonce = auth.new_nonce()
    assert _outcome(auth, _answer_with_count(auth, nonce, 1)) is AuthOutcome.OK
    assert _outcome(auth, _answer_with_count(auth, nonce, 3)) is AuthOutcome.OK
    assert _outcome(auth, _answer_with_count(auth, nonce, 2)) is AuthOutcome.REJECTED
    assert _outcome(auth, _answer_with_count(auth, nonce, 3)) is AuthOutcome.REJECTED
    assert _outcome(auth, _answer_with_count(auth, nonce, 4)) is AuthOutcome.OK


def test_an_answer_without_qop_uses_its_nonce_up() -> None:
    clock = FakeClock()  # the same second for every nonce
    auth = DigestAuthenticator(realm="callbridge", clock=clock)
    assert auth.new_nonce() != auth.new_nonce()
    nonce = auth.new_nonce()
    assert _outcome(auth, _answer_with_count(auth, nonce, None)) is AuthOutcome.OK
    assert _outcome(auth, _answer_with_count(auth, nonce, None)) is AuthOutcome.REJECTED
    assert _outcome(auth, _answer_with_count(auth, auth.new_nonce(), None)) is AuthOutcome.OK


def test_a_failed_check_spends_the_nonce() -> None:
    # Issue 15 item 18: one nonce served unlimited wrong guesses for its 300 s.
    auth = DigestAuthenticator(realm="callbridge")
    nonce = auth.new_nonce()
    assert _outcome(auth, _answer_with_count(auth, nonce, 1, password="guess")) is (
        AuthOutcome.REJECTED
    )
    # The right password with the same nonce (any count) is refused: a new challenge is needed.
    assert _outcome(auth, _answer_with_count(auth, nonce, 2)) is AuthOutcome.REJECTED
    assert _outcome(auth, _answer_with_count(auth, nonce, None)) is AuthOutcome.REJECTED
    assert _outcome(auth, _answer_with_count(auth, auth.new_nonce(), 1)) is AuthOutcome.OK


def test_a_guess_on_a_spent_nonce_is_not_checked() -> None:
    auth = DigestAuthenticator(realm="callbridge")
    nonce = auth.new_nonce()
    checked = 0
    compute = auth.expected_response

    def counting(params: dict[str, str], *, method: str, password: str) -> str:
        nonlocal checked
        checked += 1
        return compute(params, method=method, password=password)

    answers = [_answer_with_count(auth, nonce, n, password=f"guess{n}") for n in range(1, 101)]
    auth.expected_response = counting  # type: ignore[method-assign]
    outcomes = {_outcome(auth, answer) for answer in answers}
    assert outcomes == {AuthOutcome.REJECTED}
    assert checked == 1


def test_an_unknown_user_is_checked_and_refused_like_a_wrong_password() -> None:
    throttle = GuessThrottle(limits=GuessLimits(per_source=1000, per_user=3))
    auth = DigestAuthenticator(realm="callbridge", throttle=throttle)

    def outcomes(user: str) -> list[AuthOutcome]:
        return [
            auth.verify(
                _answer(auth, user, "wrong"),
                method="REGISTER",
                password_for=_passwords,
                source="127.0.0.9",
            ).outcome
            for _ in range(5)
        ]

    # Both get three checked refusals, then both are throttled: the same answers.
    expected = [AuthOutcome.REJECTED] * 3 + [AuthOutcome.THROTTLED] * 2
    assert outcomes("1001") == expected
    assert outcomes("nobody") == expected


def test_counts_of_expired_nonces_are_forgotten() -> None:
    clock = FakeClock()
    auth = DigestAuthenticator(realm="callbridge", clock=clock)
    old = auth.new_nonce()
    assert _outcome(auth, _answer_with_count(auth, old, 1)) is AuthOutcome.OK
    clock.now += NONCE_LIFETIME + 1
    for _ in range(PRUNE_ABOVE):
        assert _outcome(auth, _answer_with_count(auth, auth.new_nonce(), 1)) is AuthOutcome.OK
        clock.now += 0.001
    assert old not in auth._counts
    assert len(auth._counts) <= PRUNE_ABOVE
    assert _outcome(auth, _answer_with_count(auth, old, 1)) is AuthOutcome.STALE


def test_many_live_nonces_are_pruned_only_when_their_number_doubles() -> None:
    clock = FakeClock()
    auth = DigestAuthenticator(realm="callbridge", clock=clock)
    passes = 0
    forget = auth._forget_expired

    def counted() -> None:
        nonlocal passes
        passes += 1
        forget()

    auth._forget_expired = counted  # type: ignore[method-assign]
    for _ in range(3 * PRUNE_ABOVE):  # all alive: nothing expires
        assert _outcome(auth, _answer_with_count(auth, auth.new_nonce(), 1)) is AuthOutcome.OK
    assert len(auth._counts) == 3 * PRUNE_ABOVE
    assert passes == 2  # at PRUNE_ABOVE and at 2 * PRUNE_ABOVE, not at every answer

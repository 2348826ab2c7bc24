"""TOTP against the RFC 6238 Appendix B vectors, clock drift, replay protection and hostile input."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.auth.totp import TotpVerifier, new_secret, provisioning_uri

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()  # the SHA-1 seed of RFC 6238 Appendix B

# RFC 6238 Appendix B, SHA-1 column: (Unix time, 8-digit TOTP).
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


def reference_code(secret: str, step: int) -> str:
    """RFC 4226 §5.3 dynamic truncation, written out independently of pyotp."""
    digest = hmac.new(base64.b32decode(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**6:06d}"


verifier = TotpVerifier()


@pytest.mark.parametrize(("at", "eight_digits"), RFC_VECTORS)
def test_rfc6238_vectors(at: int, eight_digits: str) -> None:
    # The vectors are 8 digits (value mod 10^8); the 6-digit code is value mod 10^6, i.e. the last 6 digits.
    code = eight_digits[-6:]
    assert reference_code(RFC_SECRET, at // 30) == code
    assert verifier.verify(RFC_SECRET, code, last_used_step=None, at=at) == at // 30
    assert verifier.verify(RFC_SECRET, eight_digits, last_used_step=None, at=at) is None


def test_drift_of_one_step_accepted_two_rejected() -> None:
    at = 1234567890.0
    step = int(at // 30)
    for delta in (-1, 0, 1):
        code = reference_code(RFC_SECRET, step + delta)
        assert verifier.verify(RFC_SECRET, code, last_used_step=None, at=at) == step + delta
    for delta in (-2, 2, -3, 10):
        code = reference_code(RFC_SECRET, step + delta)
        assert verifier.verify(RFC_SECRET, code, last_used_step=None, at=at) is None


def test_no_drift_when_configured() -> None:
    at = 1234567890.0
    step = int(at // 30)
    strict = TotpVerifier(drift_steps=0)
    assert strict.verify(RFC_SECRET, reference_code(RFC_SECRET, step), last_used_step=None, at=at) == step
    assert strict.verify(RFC_SECRET, reference_code(RFC_SECRET, step + 1), last_used_step=None, at=at) is None


def test_replay_rejected() -> None:
    at = 1111111111.0
    step = int(at // 30)
    code = reference_code(RFC_SECRET, step)
    assert verifier.verify(RFC_SECRET, code, last_used_step=step - 1, at=at) == step
    assert verifier.verify(RFC_SECRET, code, last_used_step=step, at=at) is None
    assert verifier.verify(RFC_SECRET, code, last_used_step=step, at=at + 30) is None  # still within drift
    assert verifier.verify(RFC_SECRET, code, last_used_step=step + 5, at=at) is None
    # An older code inside the drift window cannot be used after a newer one.
    previous = reference_code(RFC_SECRET, step - 1)
    assert verifier.verify(RFC_SECRET, previous, last_used_step=step, at=at) is None
    # The next step's code is still fine.
    upcoming = reference_code(RFC_SECRET, step + 1)
    assert verifier.verify(RFC_SECRET, upcoming, last_used_step=step, at=at + 30) == step + 1


@pytest.mark.parametrize(
    "code", ["", "12345", "1234567", "abcdef", "08180a", "+81804", "-81804", "0818.4", "١٢٣٤٥٦", "0" * 10_000]
)
def test_malformed_codes_rejected_without_raising(code: str) -> None:
    assert verifier.verify(RFC_SECRET, code, last_used_step=None, at=1111111109) is None


def test_full_width_digits_and_spaces_accepted() -> None:
    at = 1111111109
    assert verifier.verify(RFC_SECRET, "０８１８０４", last_used_step=None, at=at) == at // 30
    assert verifier.verify(RFC_SECRET, "081 804", last_used_step=None, at=at) == at // 30
    assert verifier.verify(RFC_SECRET, " 081804\n".strip(), last_used_step=None, at=at) == at // 30


def test_default_time_is_now() -> None:
    import time

    secret = new_secret()
    step = int(time.time() // 30)
    assert verifier.verify(secret, reference_code(secret, step), last_used_step=None) in (step, step + 1)


@settings(max_examples=200)
@given(st.text(max_size=12))
def test_arbitrary_text_never_raises(code: str) -> None:
    at = 1234567890
    result = verifier.verify(RFC_SECRET, code, last_used_step=None, at=at)
    assert result is None or result in (at // 30 - 1, at // 30, at // 30 + 1)


@settings(max_examples=100)
@given(st.integers(min_value=0, max_value=2**33), st.integers(min_value=-3, max_value=3))
def test_matches_reference_implementation(at: int, delta: int) -> None:
    step = at // 30
    code = reference_code(RFC_SECRET, max(step + delta, 0))
    result = verifier.verify(RFC_SECRET, code, last_used_step=None, at=at)
    if abs(delta) <= 1 and step + delta >= 0:
        # Another step in the window may share the code (about 3 in a million); then the earliest wins.
        assert result is not None and result <= step + delta
    elif result is not None:
        assert abs(result - step) <= 1 and reference_code(RFC_SECRET, result) == code


def test_bad_secret_raises() -> None:
    with pytest.raises(ValueError):
        verifier.verify("not base32!", "123456", last_used_step=None)
    with pytest.raises(ValueError):
        verifier.verify("GEZDGNBV", "123456", last_used_step=None)  # 40 bits


def test_new_secret_is_160_bits_base32() -> None:
    secrets_ = {new_secret() for _ in range(50)}
    assert len(secrets_) == 50
    for secret in secrets_:
        assert len(secret) == 32
        assert len(base64.b32decode(secret)) == 20


def test_provisioning_uri() -> None:
    uri = provisioning_uri(RFC_SECRET, "tanaka@example.co.jp", "まもり証券")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    assert unquote(parts.path) == "/まもり証券:tanaka@example.co.jp"
    query = parse_qs(parts.query)
    assert query["secret"] == [RFC_SECRET]
    assert query["issuer"] == ["まもり証券"]
    assert query.get("digits", ["6"]) == ["6"] and query.get("period", ["30"]) == ["30"]
    with pytest.raises(ValueError):
        provisioning_uri(RFC_SECRET, "a:b", "issuer")
    with pytest.raises(ValueError):
        provisioning_uri(RFC_SECRET, "tanaka", "Mamori: Securities")

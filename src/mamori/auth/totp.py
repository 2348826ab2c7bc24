"""Time-based one-time passwords (RFC 6238 TOTP over RFC 4226 HOTP), 6 digits, 30-second steps, HMAC-SHA-1.

These are the parameters every authenticator app supports through the ``otpauth://`` Key Uri Format
(https://github.com/google/google-authenticator/wiki/Key-Uri-Format). Secrets are 160 bits, the HMAC-SHA-1 key
length RFC 4226 §4 recommends. Verification accepts one step of clock drift either side (RFC 6238 §5.2 / §6) and
refuses any step at or before the last one accepted for the account, so an observed code cannot be replayed
(RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt of the OTP after the successful validation has
been issued for the first OTP").

Storage and encryption of secrets, and throttling of attempts (NIST SP 800-63B-4 §3.2.2), are the caller's job.
"""

from __future__ import annotations

import hmac
import re
import time
import unicodedata

import pyotp

__all__ = ["DIGITS", "INTERVAL", "TotpVerifier", "new_secret", "provisioning_uri"]

DIGITS = 6
INTERVAL = 30
_SECRET_BYTES = 20  # 160 bits
_CODE = re.compile(r"[0-9]{6}")
_MAX_CODE_INPUT = 32  # longer input is rejected before normalisation


def new_secret() -> str:
    """A fresh random 160-bit secret as 32 base32 characters (no padding)."""
    return pyotp.random_base32(length=_SECRET_BYTES * 8 // 5)


def provisioning_uri(secret: str, account_label: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI to show as a QR code when the customer enrols an authenticator app."""
    if ":" in issuer or ":" in account_label:
        raise ValueError("issuer and account label must not contain ':' (the Key Uri Format separator)")
    return _totp(secret).provisioning_uri(name=account_label, issuer_name=issuer)


def _totp(secret: str) -> pyotp.TOTP:
    try:
        return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
    except ValueError as exc:  # binascii.Error included; pyotp also refuses keys under 112 bits
        raise ValueError(f"TOTP secret is not valid base32 of at least 112 bits: {exc}") from None


class TotpVerifier:
    """Checks submitted codes. Stateless: the caller stores the returned step as the account's last used step."""

    def __init__(self, *, drift_steps: int = 1) -> None:
        if drift_steps < 0:
            raise ValueError("drift_steps must not be negative")
        self.drift_steps = drift_steps

    def verify(self, secret: str, code: str, *, last_used_step: int | None, at: float | None = None) -> int | None:
        """The time step ``code`` belongs to, or None if it is wrong, malformed, outside the drift window or
        not newer than ``last_used_step``.

        ``code`` may contain spaces and full-width digits (a Japanese IME in full-width mode types ``１２３４５６``).
        Every candidate step in the window is compared in constant time, so timing does not reveal which one
        matched. A malformed ``secret`` raises ValueError: that is a bug or corrupt storage, not user input.
        """
        totp = _totp(secret)
        if len(code) > _MAX_CODE_INPUT:
            return None
        normalized = unicodedata.normalize("NFKC", code).replace(" ", "").replace("-", "")
        if not _CODE.fullmatch(normalized):
            return None
        now = time.time() if at is None else at
        current = int(now // INTERVAL)
        matched: int | None = None
        for step in range(current - self.drift_steps, current + self.drift_steps + 1):
            if step < 0:
                continue
            equal = hmac.compare_digest(totp.generate_otp(step).encode("ascii"), normalized.encode("ascii"))
            fresh = last_used_step is None or step > last_used_step
            if equal and fresh and matched is None:
                matched = step  # the earliest acceptable step; keep looping so timing does not depend on it
        return matched

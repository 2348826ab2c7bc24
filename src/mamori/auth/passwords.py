"""Password hashing and password policy for customer authentication.

Hashing follows the OWASP Password Storage Cheat Sheet
(https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html): Argon2id with at least
19 MiB of memory (m=19456 KiB), 2 iterations and 1 degree of parallelism. The parameters are encoded in every
stored hash, so raising them later only needs :meth:`PasswordHasher.needs_rehash` at the next successful login.

The policy follows NIST SP 800-63B-4 §3.1.1.2 (password verifiers; §5.1.1.2 in revision 3): a minimum length,
long passwords accepted (we cap at 128 characters only to bound hashing and strength-estimation cost), no
composition rules (no "one upper case, one digit, one symbol"), a comparison against a blocklist of breached and
common passwords and against context-specific words such as the login id, plus a zxcvbn strength estimate as the
"guidance" NIST recommends.

Unicode: every password is normalised to NFKC before it is hashed, checked or measured, as NIST SP 800-63B
recommends. On a Japanese IME the same key sequence may produce full-width ``ｐａｓｓ１２３`` or half-width
``pass123`` depending on the input mode; NFKC maps both to the same string so a customer is not locked out by the
state of their IME, and length is counted in code points of the normalised string.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

if TYPE_CHECKING:
    from mamori.auth.breached import BreachedPasswords

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MalformedHashError",
    "PasswordHasher",
    "PasswordProblem",
    "bench_password_verifications",
    "check_password",
    "normalize_password",
]

#: OWASP Password Storage Cheat Sheet minimum for Argon2id.
OWASP_MEMORY_COST_KIB = 19456
OWASP_TIME_COST = 2
OWASP_PARALLELISM = 1

MAX_PASSWORD_LENGTH = 128
#: zxcvbn's matching is super-linear in the input length; only this prefix is scored.
ZXCVBN_MAX_CHARS = 40  # zxcvbn is super-linear on long look-alike strings: 100 chars cost seconds
#: Context words (or parts of them) shorter than this are not treated as "contains the user input".
MIN_CONTEXT_WORD = 4


def normalize_password(password: str) -> str:
    """NFKC-normalise a password (full-width and half-width forms of the same characters become equal)."""
    return unicodedata.normalize("NFKC", password)


class MalformedHashError(ValueError):
    """The stored value is not an Argon2 hash this library can verify (corrupt or foreign format)."""


class PasswordHasher:
    """Argon2id hashing at the OWASP minimum (m=19456 KiB, t=2, p=1) unless overridden.

    Thread-safe: argon2-cffi releases the GIL while hashing, so verifications run in parallel on threads.
    """

    def __init__(
        self,
        *,
        memory_cost: int = OWASP_MEMORY_COST_KIB,
        time_cost: int = OWASP_TIME_COST,
        parallelism: int = OWASP_PARALLELISM,
        hash_len: int = 32,
        salt_len: int = 16,
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=hash_len,
            salt_len=salt_len,
            type=argon2.Type.ID,
        )
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        """Return the PHC-format Argon2id hash (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``)."""
        return self._hasher.hash(normalize_password(password))

    def verify(self, stored: str, password: str) -> bool:
        """True if ``password`` matches ``stored``; False on mismatch.

        Raises :class:`MalformedHashError` only when ``stored`` cannot be parsed or verified at all.
        """
        try:
            return self._hasher.verify(stored, normalize_password(password))
        except VerifyMismatchError:
            return False
        except InvalidHashError as exc:
            raise MalformedHashError("stored password hash is not a valid Argon2 hash") from exc
        except VerificationError as exc:
            raise MalformedHashError(f"stored password hash cannot be verified: {exc}") from exc

    def needs_rehash(self, stored: str) -> bool:
        """True if ``stored`` was made with other parameters (or another Argon2 variant) than this hasher's."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError as exc:
            raise MalformedHashError("stored password hash is not a valid Argon2 hash") from exc

    def verify_dummy(self, password: str) -> None:
        """Spend the time of one real verification; call it for unknown accounts.

        Without it, "no such account" answers in microseconds and "wrong password" in tens of milliseconds, which
        tells an attacker which login ids exist. The dummy hash uses this hasher's parameters, so the cost matches
        accounts whose hash is current (hashes still awaiting :meth:`needs_rehash` may take a different time).
        """
        if self._dummy_hash is None:
            # A benign race: two threads may both compute it; either value works.
            self._dummy_hash = self.hash(secrets.token_urlsafe(32))
        self.verify(self._dummy_hash, password)


@dataclass(frozen=True, slots=True)
class PasswordProblem:
    """One reason a new password is rejected, with messages for the customer in English and Japanese."""

    code: str
    message_en: str
    message_ja: str


def _problem_too_short(min_length: int) -> PasswordProblem:
    return PasswordProblem(
        "too_short",
        f"Use at least {min_length} characters.",
        f"パスワードは{min_length}文字以上で設定してください。",
    )


_TOO_LONG = PasswordProblem(
    "too_long",
    f"Use at most {MAX_PASSWORD_LENGTH} characters.",
    f"パスワードは{MAX_PASSWORD_LENGTH}文字以内で設定してください。",
)
_BREACHED = PasswordProblem(
    "breached",
    "This password appears in lists of passwords exposed in past data breaches. Please choose a different one.",
    "このパスワードは過去の漏えいで流出したパスワードの一覧に含まれています。別のパスワードを選んでください。",
)
_CONTAINS_USER_INPUT = PasswordProblem(
    "contains_user_input",
    "Do not use your login ID, name or email address in your password.",
    "パスワードにログインID、お名前、メールアドレスを含めないでください。",
)
_TOO_GUESSABLE = PasswordProblem(
    "too_guessable",
    "This password is easy to guess. A longer password made of several unrelated words is stronger.",
    "このパスワードは推測されやすいため使用できません。関連のない複数の単語を組み合わせた、より長いパスワードをおすすめします。",
)

_SEPARATORS = re.compile(r"[\W_]+")
# zxcvbn stores the per-call user inputs in a module-global dictionary (matching.RANKED_DICTIONARIES), so two
# concurrent calls could score against each other's inputs. Serialise calls.
_ZXCVBN_LOCK = threading.Lock()


def _context_words(user_inputs: Sequence[str]) -> list[str]:
    """User inputs and their parts (``taro.yamada@example.jp`` gives ``taro``, ``yamada``, ...), casefolded."""
    words: set[str] = set()
    for raw in user_inputs:
        value = normalize_password(raw).casefold().strip()
        words.add(value)
        words.update(_SEPARATORS.split(value))
    return sorted(w for w in words if len(w) >= MIN_CONTEXT_WORD)


def _zxcvbn_score(password: str, user_inputs: list[str]) -> int:
    from zxcvbn import zxcvbn  # type: ignore[import-untyped]  # heavy import (frequency lists), done lazily

    prefix = password[:ZXCVBN_MAX_CHARS]
    with _ZXCVBN_LOCK:
        # zxcvbn raises ValueError beyond max_length (default 72): pass our own cap explicitly.
        result = cast(dict[str, Any], zxcvbn(prefix, user_inputs=user_inputs, max_length=ZXCVBN_MAX_CHARS))
    return int(result["score"])


def check_password(
    password: str,
    *,
    user_inputs: Sequence[str] = (),
    breached: BreachedPasswords | None = None,
    min_length: int = 10,
    min_score: int = 3,
) -> list[PasswordProblem]:
    """Problems with a new password (empty list: acceptable), per NIST SP 800-63B-4 §3.1.1.2.

    ``user_inputs`` are context-specific words (login id, name, email address, "mamori", the firm's name).
    ``breached`` is the blocklist (see :mod:`mamori.auth.breached`); without it only zxcvbn's built-in common
    password lists apply. ``min_score`` is zxcvbn's 0-4 score. Note that SP 800-63B-4 requires 15 characters
    when the password is the only authentication factor and allows 8 as part of multi-factor authentication.
    """
    normalized = normalize_password(password)
    problems: list[PasswordProblem] = []
    if len(normalized) < min_length:
        problems.append(_problem_too_short(min_length))
    if len(normalized) > MAX_PASSWORD_LENGTH:
        problems.append(_TOO_LONG)
    if breached is not None and normalized in breached:
        problems.append(_BREACHED)
    words = _context_words(user_inputs)
    folded = normalized.casefold()
    if any(word in folded for word in words):
        problems.append(_CONTAINS_USER_INPUT)
    if normalized and _zxcvbn_score(normalized, words) < min_score:
        problems.append(_TOO_GUESSABLE)
    return problems


def bench_password_verifications(seconds: float = 3.0, *, hasher: PasswordHasher | None = None) -> float:
    """Argon2id verifications per second on one thread (``mamori bench auth``; target >= 50/s per core)."""
    hasher = hasher or PasswordHasher()
    password = secrets.token_urlsafe(16)
    stored = hasher.hash(password)
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        if not hasher.verify(stored, password):
            raise RuntimeError("benchmark verification failed")
        count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)

"""Argon2id hashing (OWASP parameters), NFKC normalisation and the NIST SP 800-63B password policy."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mamori.auth.breached import BreachedPasswords, build_breached_file
from mamori.auth.passwords import (
    MalformedHashError,
    PasswordHasher,
    PasswordProblem,
    bench_password_verifications,
    check_password,
    normalize_password,
)


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher()


@pytest.fixture(scope="module")
def cheap() -> PasswordHasher:
    """Fast parameters for tests that hash many times (the parameters are checked elsewhere)."""
    return PasswordHasher(memory_cost=64, time_cost=1)


def to_full_width(text: str) -> str:
    """What a Japanese IME in full-width mode types for ASCII text."""
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# --- hashing --------------------------------------------------------------------------------------------------


def test_hash_uses_owasp_argon2id_parameters(hasher: PasswordHasher) -> None:
    stored = hasher.hash("tsukimi dango 2024")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert hasher.hash("tsukimi dango 2024") != stored  # random salt


def test_parameters_can_be_overridden_and_trigger_rehash(hasher: PasswordHasher) -> None:
    stronger = PasswordHasher(memory_cost=47104, time_cost=1)
    stored = stronger.hash("pw")
    assert stored.startswith("$argon2id$v=19$m=47104,t=1,p=1$")
    assert hasher.needs_rehash(stored)
    assert not stronger.needs_rehash(stored)
    assert not hasher.needs_rehash(hasher.hash("pw"))
    assert hasher.verify(stored, "pw")  # the parameters come from the stored hash


def test_verify_right_and_wrong_password(hasher: PasswordHasher) -> None:
    stored = hasher.hash("correct horse battery staple")
    assert hasher.verify(stored, "correct horse battery staple") is True
    assert hasher.verify(stored, "correct horse battery stapler") is False
    assert hasher.verify(stored, "Correct horse battery staple") is False
    assert hasher.verify(stored, "") is False


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ",  # no hash part
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzYWx0$AAAA",  # hash too short
        "$argon2id$v=19$m=1,t=2,p=1$c29tZXNhbHRzYWx0$" + "A" * 43,  # memory below the Argon2 minimum
    ],
)
def test_malformed_stored_hash_raises_value_error(hasher: PasswordHasher, stored: str) -> None:
    with pytest.raises(MalformedHashError):
        hasher.verify(stored, "password")
    assert issubclass(MalformedHashError, ValueError)


def test_needs_rehash_rejects_garbage(hasher: PasswordHasher) -> None:
    with pytest.raises(MalformedHashError):
        hasher.needs_rehash("garbage")


def test_full_width_and_half_width_passwords_are_the_same(hasher: PasswordHasher) -> None:
    stored = hasher.hash("ｐａｓｓ　ｗｏｒｄ１２３")
    assert hasher.verify(stored, "pass word123")
    assert hasher.verify(hasher.hash("pass word123"), "ｐａｓｓ　ｗｏｒｄ１２３")
    # Half-width katakana with a separate voiced mark composes to the full-width character.
    assert hasher.verify(hasher.hash("ｶﾞｯｺｳ"), "ガッコウ")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30))
def test_nfkc_equivalence_property(cheap: PasswordHasher, ascii_text: str) -> None:
    full = to_full_width(ascii_text)
    assert normalize_password(full) == ascii_text
    assert cheap.verify(cheap.hash(full), ascii_text)


def test_verify_dummy_costs_about_one_verification(hasher: PasswordHasher) -> None:
    stored = hasher.hash("a real customer's password")
    hasher.verify_dummy("warm-up")

    def median_seconds(call: Callable[[], object]) -> float:
        samples = []
        for _ in range(7):
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    real = median_seconds(lambda: hasher.verify(stored, "wrong guess"))
    dummy = median_seconds(lambda: hasher.verify_dummy("wrong guess"))
    assert real > 0.002  # Argon2id at 19 MiB takes milliseconds, not microseconds
    assert 0.5 < dummy / real < 2.0


def test_bench_reports_a_rate() -> None:
    rate = bench_password_verifications(0.3, hasher=PasswordHasher(memory_cost=1024, time_cost=1))
    assert rate > 10


@pytest.mark.slow
def test_bench_default_parameters() -> None:
    rate = bench_password_verifications(1.0)
    assert 1 < rate < 10_000


# --- policy ---------------------------------------------------------------------------------------------------


def codes(problems: list[PasswordProblem]) -> list[str]:
    return [p.code for p in problems]


@pytest.fixture(scope="module")
def breached(tmp_path_factory: pytest.TempPathFactory) -> BreachedPasswords:
    import hashlib

    directory = tmp_path_factory.mktemp("breached")
    source = directory / "pwned.txt"
    leaked = ["Ume no hana ga saku koro ni 1987", "password1234"]
    source.write_text("".join(f"{hashlib.sha1(p.encode()).hexdigest().upper()}:5\n" for p in leaked))
    build_breached_file([source], directory / "list.bin")
    return BreachedPasswords.open(directory / "list.bin")


def test_good_password_has_no_problems(breached: BreachedPasswords) -> None:
    assert check_password("kawa no nagare wa taezu shite", user_inputs=["tanaka.ichiro"], breached=breached) == []


def test_no_composition_rules() -> None:
    # All lower case, no digits, no symbols: acceptable when long and not guessable.
    assert check_password("vermilion tortoise juggles quietly") == []


def test_too_short_counts_code_points_after_nfkc() -> None:
    problems = check_password("Qz7!", min_score=0)
    assert codes(problems) == ["too_short"]
    assert "10" in problems[0].message_en and "10文字以上" in problems[0].message_ja
    # 10 code points as typed, 5 after NFKC composes each half-width kana with its voiced mark.
    assert "too_short" in codes(check_password("ｶﾞｷﾞｸﾞｹﾞｺﾞ", min_score=0))
    assert "too_short" not in codes(check_password("ｶﾞｷﾞｸﾞｹﾞｺﾞ", min_score=0, min_length=5))
    assert "too_short" in codes(check_password("x" * 11, min_length=12, min_score=0))


def test_too_long() -> None:
    assert "too_long" not in codes(check_password("tsukimi-" * 16))  # exactly 128
    problems = check_password("tsukimi-" * 16 + "x")
    assert "too_long" in codes(problems)


def test_breached_password_rejected(breached: BreachedPasswords) -> None:
    # Strong by zxcvbn's estimate, but leaked: only the list catches it.
    assert check_password("Ume no hana ga saku koro ni 1987") == []
    problems = check_password("Ume no hana ga saku koro ni 1987", breached=breached)
    assert codes(problems) == ["breached"]
    assert problems[0].message_ja == (
        "このパスワードは過去の漏えいで流出したパスワードの一覧に含まれています。別のパスワードを選んでください。"
    )
    # Full-width input is normalised before the lookup.
    assert "breached" in codes(check_password(to_full_width("password1234"), breached=breached))


def test_context_specific_words_rejected() -> None:
    problems = check_password("yamada.taro-Kabu-2024-xyz", user_inputs=["yamada.taro"])
    assert "contains_user_input" in codes(problems)
    # Parts of an email address, case-insensitively and in full-width.
    problems = check_password("ＹＡＭＡＤＡ rides a blue bicycle", user_inputs=["Taro.Yamada@example.co.jp"])
    assert "contains_user_input" in codes(problems)
    assert "contains_user_input" not in codes(check_password("kawa no nagare wa taezu", user_inputs=["jp", "co"]))


def test_guessable_password_rejected() -> None:
    problems = check_password("password1234")
    assert codes(problems) == ["too_guessable"]
    assert problems[0].message_en and problems[0].message_ja
    assert check_password("password1234", min_score=0) == []


def test_long_input_is_handled_quickly() -> None:
    # zxcvbn refuses more than 72 characters by default and slows down with length: only a prefix is scored.
    start = time.perf_counter()
    problems = check_password("abcdefghij" * 12)
    assert codes(problems) == ["too_guessable"]
    assert time.perf_counter() - start < 5
    assert codes(check_password("x" * 100_000)) == ["too_long", "too_guessable"]


def test_problem_is_frozen() -> None:
    problem = check_password("")[0]
    assert problem.code == "too_short"
    with pytest.raises(AttributeError):
        problem.code = "other"  # type: ignore[misc]


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=40), st.lists(st.text(max_size=20), max_size=3))
def test_check_password_never_raises(password: str, user_inputs: list[str]) -> None:
    problems = check_password(password, user_inputs=user_inputs)
    assert all(p.message_en and p.message_ja for p in problems)
    assert len({p.code for p in problems}) == len(problems)


def test_default_list_used_with_policy(tmp_path: Path) -> None:
    from mamori.auth.breached import default_breached_file

    with BreachedPasswords.open(default_breached_file(tmp_path)) as common:
        assert "breached" in codes(check_password("password1", breached=common))

"""Cores of the login service with injected clocks: session timeouts, the policy file, step-up
canonical operations, the ephemeral single-use store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from mamori.auth.ephemeral import Ephemeral
from mamori.auth.policy import AuthPolicy, load_policy
from mamori.auth.sessions import ClientInfo, SessionManager
from mamori.auth.stepup import StepUps, canonical_operation
from mamori.auth.store import AuthStore
from mamori.kit.errors import ConfigError, InvalidRequest, StepUpRejected

CLIENT = ClientInfo("153.156.1.1", "Mozilla/5.0", "ddevice-0000000001")
MINUTE_US = 60_000_000


class Clock:
    def __init__(self) -> None:
        self.now_us = 1_800_000_000_000_000

    def __call__(self) -> int:
        return self.now_us


@pytest.fixture
def sessions(tmp_path: Path) -> tuple[SessionManager, Clock]:
    clock = Clock()
    store = AuthStore(create_engine(f"sqlite:///{tmp_path / 'a.db'}"))
    return SessionManager(store, idle_s=30 * 60, absolute_s=12 * 3600, clock_us=clock), clock


def test_a_session_ends_after_the_idle_timeout(sessions: tuple[SessionManager, Clock]) -> None:
    manager, clock = sessions
    token, _ = manager.create("C-1", acr="phr", amr=("hwk", "mfa"), client=CLIENT)
    clock.now_us += 29 * MINUTE_US
    assert manager.resolve(token) is not None  # and this use moves the idle deadline
    clock.now_us += 29 * MINUTE_US
    assert manager.resolve(token) is not None
    clock.now_us += 31 * MINUTE_US
    assert manager.resolve(token) is None


def test_a_session_ends_at_its_absolute_limit_however_active(sessions: tuple[SessionManager, Clock]) -> None:
    manager, clock = sessions
    token, _ = manager.create("C-1", acr="phr", amr=("hwk",), client=CLIENT)
    for _ in range(12 * 3):
        clock.now_us += 20 * MINUTE_US
        if manager.resolve(token) is None:
            break
    assert clock.now_us - 1_800_000_000_000_000 <= 12 * 60 * MINUTE_US
    assert manager.resolve(token) is None


def test_revoked_and_unknown_tokens_resolve_to_nothing(sessions: tuple[SessionManager, Clock]) -> None:
    manager, _ = sessions
    token, session_id = manager.create("C-1", acr="phr", amr=("hwk",), client=CLIENT)
    other, _ = manager.create("C-1", acr="phr", amr=("hwk",), client=CLIENT)
    assert manager.revoke("C-1", reason="logout", session_id=session_id) == [session_id]
    assert manager.resolve(token) is None and manager.resolve(other) is not None
    assert manager.resolve("not-a-token") is None and manager.resolve("x" * 500) is None
    assert [s.session_id for s in manager.active("C-1")] != [session_id]


def test_recovery_sessions_are_short(sessions: tuple[SessionManager, Clock]) -> None:
    manager, clock = sessions
    token, _ = manager.create("C-1", acr="urn:mamori:acr:password", amr=("otp",), client=CLIENT, purpose="enrol")
    clock.now_us += 10 * MINUTE_US
    assert manager.resolve(token) is not None
    clock.now_us += 6 * MINUTE_US
    assert manager.resolve(token) is None


def test_policy_file_and_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "policy.yaml"
    good.write_text("passkey_required: segments\nsegments: [retail]\ntransition:\n  published_deadline: 2027-03-31\n"
                    "  max_days: 30\n", encoding="utf-8")
    policy = load_policy(good)
    assert policy.passkey_required_for("retail") and not policy.passkey_required_for("institutional")
    assert policy.passkey_required_for("retail", "withdrawal")
    for text, fragment in [("passkey_required: maybe\n", "passkey_required"),
                           ("passkey_required: segments\n", "segments"),
                           ("operations: [login, teleport]\n", "teleport"),
                           ("transition:\n  max_days: -1\n", "max_days"),
                           ("transition:\n  published_deadline: soon\n", "published_deadline"),
                           ("colour: blue\n", "colour")]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=fragment):
            load_policy(bad)


def test_a_transition_is_capped_by_max_days_and_the_published_deadline() -> None:
    policy = AuthPolicy(published_deadline=dt.date(2027, 3, 31), max_transition_days=90)
    now = int(dt.datetime(2027, 3, 1, tzinfo=dt.UTC).timestamp() * 1e6)
    far = now + 365 * 86_400_000_000
    until = policy.clamp_transition(far, now)
    assert until == policy.deadline_us()  # the deadline (end of 31 March JST) comes before 90 days
    assert policy.fallback_allowed(None, until, now) and not policy.fallback_allowed(None, until, until)
    assert not policy.fallback_allowed(None, None, now)
    assert AuthPolicy(passkey_required="none").fallback_allowed(None, None, now)


def test_equivalent_operations_are_one_and_different_ones_are_not() -> None:
    a = canonical_operation({"kind": "withdrawal", "amount": "100000", "currency": "jpy", "destination": "X-1"})
    b = canonical_operation({"kind": "withdrawal", "amount": 100000, "currency": "JPY", "destination": "X-1"})
    c = canonical_operation({"kind": "withdrawal", "amount": "1.00E5", "currency": "JPY", "destination": "X-1"})
    assert a == b == c
    assert a != canonical_operation({"kind": "withdrawal", "amount": "100000.01", "currency": "JPY",
                                     "destination": "X-1"})
    for bad in ({"kind": "withdrawal", "amount": "NaN", "currency": "JPY", "destination": "X"},
                {"kind": "withdrawal", "amount": "10", "currency": "JPY"},
                {"kind": "teleport"}, {"kind": "email_change", "new_value": True},
                {"kind": "email_change", "new_value": "a@b.jp", "colour": "red"}, "withdrawal"):
        with pytest.raises(InvalidRequest):
            canonical_operation(bad)


def test_a_step_up_is_approved_once_and_consumed_once_for_its_own_account() -> None:
    steps = StepUps()
    op = {"kind": "email_change", "new_value": "taro@example.jp"}
    step = steps.create("C-1", op)
    with pytest.raises(StepUpRejected):
        steps.consume(step.id, "C-1", op)  # not approved yet
    with pytest.raises(StepUpRejected):
        steps.get(step.id, "C-2")
    steps.approve(step, "cred-1", 0.0)
    with pytest.raises(StepUpRejected):
        steps.approve(step, "cred-1", 0.0)
    with pytest.raises(StepUpRejected):
        steps.consume(step.id, "C-2", op)
    assert steps.consume(step.id, "C-1", op).status == "consumed"
    with pytest.raises(StepUpRejected):
        steps.consume(step.id, "C-1", op)
    assert step.challenge != steps.create("C-1", op).challenge  # same operation, fresh challenge


def test_ephemeral_values_expire_are_taken_once_and_are_bounded() -> None:
    now = [0.0]
    store: Ephemeral[int] = Ephemeral(ttl_s=10, max_entries=3, clock=lambda: now[0])
    store.put("a", 1)
    assert store.take("a") == 1 and store.take("a") is None
    store.put("b", 2)
    now[0] = 11
    assert store.get("b") is None
    for key in "cdef":
        store.put(key, 0)
    assert len(store) == 3 and store.get("c") is None and store.get("f") == 0

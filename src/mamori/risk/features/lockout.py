"""Account lockout after consecutive authentication failures (FSA 2025 request 2: lock accounts
after consecutive failed logins; JSDA 2025 guideline on unauthorised-access prevention).

Per account and per factor (``password``; ``otp`` = TOTP / SMS / email codes; passkeys cannot be
guessed and never lock), failures **from devices the account has not logged in from** are counted;
the ``lockout_threshold``-th consecutive one (default 5) locks that factor for unknown devices for
``lockout_minutes`` (default 15), doubling with each further lock, and the ``lockout_permanent_after``-th
lock (default 3) within ``lockout_period_hours`` (default 12) is permanent. A success resets the
count. A permanent lock ends only with an ``account_unlock`` event: an operator's action after the
customer was identified again, which mamori records in its audit log.

Known devices are exempt by design, so an attacker hammering a password cannot lock the customer
out of their own phone. The thresholds are rule-set constants (``lists:`` in the rule files).

Lock state follows arrival order (a late failure does not lock retroactively): it is a safety
mechanism acting now, not a statistic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mamori.risk.features.base import EvalEnv, FeatureDef

FACTOR_OF_METHOD = {"password": "password", "totp": "otp", "sms_otp": "otp", "email_otp": "otp"}
DEFAULTS = {"lockout_threshold": 5, "lockout_minutes": 15, "lockout_permanent_after": 3,
            "lockout_period_hours": 12}
_FAILURES, _UNTIL, _PERMANENT, _LOCK_TIMES = range(4)
LOGIN = frozenset({"login"})


class Lockout:
    name = "lockout"
    state_attributes = ("states",)  # what an engine snapshot saves and restores

    def __init__(self) -> None:
        # (account, factor) -> [consecutive failures, locked until (ts), permanent, lock times]
        self.states: dict[tuple[str, str], list[Any]] = {}
        self.configure({})

    def configure(self, constants: Mapping[str, Any]) -> None:
        """Take the thresholds from the rule set's named constants (defaults otherwise)."""
        value = {k: constants.get(k, v) for k, v in DEFAULTS.items()}
        self.threshold = int(value["lockout_threshold"])
        self.base_s = float(value["lockout_minutes"]) * 60
        self.permanent_after = int(value["lockout_permanent_after"])
        self.period_s = float(value["lockout_period_hours"]) * 3600

    def _state(self, env: EvalEnv) -> list[Any] | None:
        factor = FACTOR_OF_METHOD.get(getattr(env.event, "method", ""))
        return None if factor is None else self.states.get((env.event.account_id, factor))

    def _locked(self, env: EvalEnv) -> bool | None:
        if FACTOR_OF_METHOD.get(getattr(env.event, "method", "")) is None:
            return None
        state = self._state(env)
        return state is not None and (state[_PERMANENT] or env.ts < state[_UNTIL])

    def features(self) -> Iterable[FeatureDef]:
        yield FeatureDef("login_locked", "This factor (password or one-time code) of the account is locked for "
                         "unknown devices at this attempt, including a lock this attempt triggered. None for "
                         "passkeys.", "bool", self._locked, LOGIN)
        yield FeatureDef("login_lock_started", "This very attempt created the lock (the one to tell the customer "
                         "about); False for attempts refused during a lock that already existed.", "bool",
                         lambda env: False if FACTOR_OF_METHOD.get(getattr(env.event, "method", "")) else None, LOGIN)
        yield FeatureDef("login_lock_permanent", "The lock is permanent (until an operator unlocks after "
                         "re-identification).", "bool",
                         lambda env: bool(s[_PERMANENT]) if (s := self._state(env)) else False, LOGIN)
        yield FeatureDef("login_lock_remaining_s", "Seconds left on a temporary lock (0 if none).", "number",
                         lambda env: max(0.0, s[_UNTIL] - env.ts) if (s := self._state(env)) else 0.0, LOGIN)
        yield FeatureDef("login_locks_in_period", "Locks of this factor in the lockout period (default 12 h).",
                         "int", lambda env: sum(1 for t in s[_LOCK_TIMES] if t > env.ts - self.period_s)
                         if (s := self._state(env)) else 0, LOGIN)
        yield FeatureDef("login_consecutive_failures", "Consecutive failures of this factor from unknown "
                         "devices since the last success or lock.", "int",
                         lambda env: s[_FAILURES] if (s := self._state(env)) else 0, LOGIN)

    def observe(self, env: EvalEnv) -> None:
        event: Any = env.event
        if event.type == "account_unlock":
            for locked_factor in ("password", "otp"):
                self.states.pop((event.account_id, locked_factor), None)
            return
        if event.type != "login":
            return
        factor = FACTOR_OF_METHOD.get(event.method)
        if factor is None:
            return
        key = (event.account_id, factor)
        state = self.states.get(key)
        ts = env.ts
        # Only this plugin sees the transition, so it records it on the decision (every lockable
        # login carries the value, whether or not a rule reads it): notices use it.
        env["login_lock_started"] = False
        if state is not None and (state[_PERMANENT] or ts < state[_UNTIL]):
            return  # attempts during a lock are refused by the rules and do not count again
        if event.result == "success":
            if state is not None:
                state[_FAILURES] = 0
            return
        if env["new_device"] is False:
            return  # the customer's own device: never counts toward a lock
        if state is None:
            state = self.states[key] = [0, float("-inf"), False, []]
        state[_FAILURES] += 1
        if state[_FAILURES] < self.threshold:
            return
        recent = [t for t in state[_LOCK_TIMES] if t > ts - self.period_s]
        state[_LOCK_TIMES] = [*recent, ts]
        state[_FAILURES] = 0
        if len(recent) + 1 >= self.permanent_after:
            state[_PERMANENT] = True
        else:
            state[_UNTIL] = ts + self.base_s * (2 ** len(recent))
        env["login_lock_started"] = True

    def commit(self, env: EvalEnv, verdict: str) -> None:
        return None

"""Time since the account's last event of a kind (``secs_since_<kind>``), by event time.

The value is the gap in seconds between this event and the latest earlier event of that kind of the
same account, or None if there was none. Late events are placed by their own time: the answer is the
same whatever order the events arrived in, as long as the event is no older than the
``HISTORY``-th most recent one of its kind (older history is dropped to bound memory).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable
from typing import Any

from mamori.risk.features.base import EvalEnv, FeatureDef

HISTORY = 32


_STATIC_KINDS: dict[str, tuple[str, ...]] = {
    "fiat_withdrawal": ("withdrawal", "fiat_withdrawal"),
    "crypto_withdrawal": ("withdrawal", "crypto_withdrawal"),
    **{k: (k,) for k in ("fiat_deposit", "crypto_deposit", "order", "execution", "logout")},
}
_SETTING_KINDS = {s: ("settings_change", f"{s}_change") for s in
                  ("email", "phone", "password", "mfa_device", "withdrawal_account", "address")}


def _kinds_of(event: Any, env: EvalEnv) -> tuple[str, ...]:
    kind = event.type
    if kind == "login":
        if event.result == "success":
            return ("login_success", "new_device_login") if env["new_device"] else ("login_success",)
        return ("login_failure",)
    if kind == "settings_change":
        return _SETTING_KINDS[event.setting]
    return _STATIC_KINDS.get(kind, ())


KINDS: dict[str, str] = {
    "login_success": "a successful login",
    "login_failure": "a failed login attempt",
    "new_device_login": "a successful login from a device new to the account",
    "logout": "a logout",
    "settings_change": "any settings change",
    "email_change": "an email address change",
    "phone_change": "a phone number change",
    "password_change": "a password change",
    "mfa_device_change": "an MFA device being added or removed",
    "withdrawal_account_change": "a change of the withdrawal bank account",
    "address_change": "a postal address change",
    "fiat_deposit": "a fiat deposit",
    "crypto_deposit": "a crypto deposit",
    "withdrawal": "a fiat or crypto withdrawal request",
    "fiat_withdrawal": "a fiat withdrawal request",
    "crypto_withdrawal": "a crypto withdrawal request",
    "order": "an order",
    "execution": "an execution",
}


class SinceLast:
    name = "since_last"
    state_attributes = ("times", "first_seen")  # what an engine snapshot saves and restores

    def __init__(self) -> None:
        self.times: dict[tuple[str, str], list[float]] = {}
        self.first_seen: dict[str, float] = {}

    def _since(self, kind: str) -> Callable[[EvalEnv], float | None]:
        def compute(env: EvalEnv) -> float | None:
            times = self.times.get((env.event.account_id, kind))
            if not times:
                return None
            i = bisect_left(times, env.ts)
            return None if i == 0 else env.ts - times[i - 1]

        return compute

    def features(self) -> Iterable[FeatureDef]:
        for kind, text in KINDS.items():
            yield FeatureDef(f"secs_since_{kind}", f"Seconds since {text} of this account (None if "
                             "none).", "number", self._since(kind))
        yield FeatureDef("account_age_days", "Days since mamori first saw the account (0 for a new one).",
                         "number",
                         lambda env: max(0.0, env.ts - self.first_seen.get(env.event.account_id, env.ts))
                         / 86400.0)

    def observe(self, env: EvalEnv) -> None:
        account = env.event.account_id
        first = self.first_seen.get(account)
        if first is None or env.ts < first:
            self.first_seen[account] = env.ts

    def commit(self, env: EvalEnv, verdict: str) -> None:
        # Recorded after the rules ran so that the current event never counts as its own "last".
        account = env.event.account_id
        for kind in _kinds_of(env.event, env):
            times = self.times.get((account, kind))
            if times is None:
                self.times[(account, kind)] = [env.ts]
                continue
            if env.ts >= times[-1]:
                times.append(env.ts)
            else:
                insort(times, env.ts)
            if len(times) > HISTORY:
                del times[0]

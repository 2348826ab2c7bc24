"""Which factors the firm accepts, for whom and for what (JSDA guideline on preventing unauthorised
access in internet trading, 2025 revision: phishing-resistant MFA mandatory and on by default at
login, withdrawal and change of withdrawal account; a weaker factor only as a transition with a
published schedule).

The policy file (YAML, ``MAMORI_AUTH_POLICY_PATH``)::

    passkey_required: all            # all | segments | none
    segments: [retail]               # with passkey_required: segments
    operations: [login, withdrawal, withdrawal_account_change, email_change, phone_change,
                 mfa_change, passkey_remove]
    transition:
      published_deadline: 2027-03-31 # the date the firm published; no fallback after it
      max_days: 90                   # longest transition one customer can be granted
      second_factor_required: true   # password alone is never enough, TOTP must follow

A customer for whom a passkey is required may still log in with password (+ TOTP) while their own
``fallback_until`` is in the future and not after the published deadline; operators grant that
per customer through the admin API, where the whole schedule is visible. Operation step-ups
(withdrawals, changes of account, contact or MFA device) always need a passkey: they are bound to
the operation, which only a WebAuthn challenge can carry.

Email and SMS one-time codes are not offered: the FSA names them as relayable by real-time
phishing kits, and this version supports TOTP as the only fallback second factor.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from mamori.kit.errors import ConfigError

OPERATIONS = ("login", "withdrawal", "withdrawal_account_change", "email_change", "phone_change",
              "mfa_change", "passkey_remove")
JST = dt.timezone(dt.timedelta(hours=9))


@dataclass(frozen=True)
class AuthPolicy:
    passkey_required: Literal["all", "segments", "none"] = "all"
    segments: frozenset[str] = frozenset()
    operations: frozenset[str] = field(default_factory=lambda: frozenset(OPERATIONS))
    published_deadline: dt.date | None = None
    max_transition_days: int = 90
    second_factor_required: bool = True

    def passkey_required_for(self, segment: str | None, operation: str = "login") -> bool:
        if operation not in self.operations or self.passkey_required == "none":
            return False
        return self.passkey_required == "all" or (segment is not None and segment in self.segments)

    def deadline_us(self) -> int | None:
        """End of the published deadline day (JST), in microseconds."""
        if self.published_deadline is None:
            return None
        end = dt.datetime.combine(self.published_deadline + dt.timedelta(days=1), dt.time(), JST)
        return int(end.timestamp() * 1_000_000)

    def fallback_allowed(self, segment: str | None, fallback_until_us: int | None, now_us: int) -> bool:
        """May this customer log in without a passkey right now?"""
        if not self.passkey_required_for(segment, "login"):
            return True
        if fallback_until_us is None or fallback_until_us <= now_us:
            return False
        deadline = self.deadline_us()
        return deadline is None or now_us < deadline

    def clamp_transition(self, until_us: int, now_us: int) -> int:
        """The latest a transition granted now may run: ``max_days`` and the published deadline."""
        latest = now_us + self.max_transition_days * 86_400_000_000
        deadline = self.deadline_us()
        if deadline is not None:
            latest = min(latest, deadline)
        return min(until_us, latest)

    def to_dict(self) -> dict[str, Any]:
        return {"passkey_required": self.passkey_required, "segments": sorted(self.segments),
                "operations": sorted(self.operations),
                "transition": {"published_deadline": self.published_deadline.isoformat()
                               if self.published_deadline else None,
                               "max_days": self.max_transition_days,
                               "second_factor_required": self.second_factor_required}}


def load_policy(path: Path | None) -> AuthPolicy:
    """Read the policy file (``None``: the strict default). Errors name the file and the field."""
    if path is None:
        return AuthPolicy()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the authentication policy: {exc}") from None
    if data is None:
        return AuthPolicy()
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the policy must be a mapping")
    unknown = set(data) - {"passkey_required", "segments", "operations", "transition"}
    if unknown:
        raise ConfigError(f"{path}: unknown policy field(s): {', '.join(sorted(unknown))}")
    required = data.get("passkey_required", "all")
    if required not in ("all", "segments", "none"):
        raise ConfigError(f"{path}: passkey_required must be all, segments or none, not {required!r}")
    segments = _strings(path, "segments", data.get("segments", []))
    if required == "segments" and not segments:
        raise ConfigError(f"{path}: passkey_required: segments needs a non-empty segments list")
    operations = _strings(path, "operations", data.get("operations", list(OPERATIONS)))
    bad = sorted(set(operations) - set(OPERATIONS))
    if bad:
        raise ConfigError(f"{path}: unknown operation(s) {', '.join(bad)}; known: {', '.join(OPERATIONS)}")
    transition = data.get("transition") or {}
    if not isinstance(transition, dict):
        raise ConfigError(f"{path}: transition must be a mapping")
    unknown = set(transition) - {"published_deadline", "max_days", "second_factor_required"}
    if unknown:
        raise ConfigError(f"{path}: unknown transition field(s): {', '.join(sorted(unknown))}")
    deadline = transition.get("published_deadline")
    if deadline is not None and not isinstance(deadline, dt.date):
        raise ConfigError(f"{path}: transition.published_deadline must be a date like 2027-03-31")
    max_days = transition.get("max_days", 90)
    if not isinstance(max_days, int) or isinstance(max_days, bool) or not 0 <= max_days <= 3650:
        raise ConfigError(f"{path}: transition.max_days must be a whole number of days (0–3650)")
    second = transition.get("second_factor_required", True)
    if not isinstance(second, bool):
        raise ConfigError(f"{path}: transition.second_factor_required must be true or false")
    return AuthPolicy(passkey_required=required, segments=frozenset(segments), operations=frozenset(operations),
                      published_deadline=deadline, max_transition_days=max_days, second_factor_required=second)


def _strings(path: Path, name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{path}: {name} must be a list of names")
    return list(value)

"""Account freezes: after the customer says "this was not me" (FSA 2025 request 2 and 8: act on
the customer's report at once and keep the victim protected while the case is handled), or when an
analyst freezes an account. An ``account_freeze`` event freezes from its time on; only an
``account_unlock`` (an operator's action after the customer was identified again) lifts it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mamori.risk.features.base import EvalEnv, FeatureDef


class Freeze:
    name = "freeze"
    state_attributes = ("frozen",)  # what an engine snapshot saves and restores

    def __init__(self) -> None:
        self.frozen: dict[str, tuple[float, str]] = {}  # account -> (since, reason)

    def features(self) -> Iterable[FeatureDef]:
        yield FeatureDef("account_frozen", "The account is frozen (customer reported 'not me', or an operator "
                         "froze it) and not yet unlocked.", "bool",
                         lambda env: (f := self.frozen.get(env.event.account_id)) is not None and env.ts >= f[0])
        yield FeatureDef("account_frozen_reason", "Why the account is frozen (None when it is not).", "str",
                         lambda env: f[1] if (f := self.frozen.get(env.event.account_id)) else None)

    def observe(self, env: EvalEnv) -> None:
        event: Any = env.event
        if event.type == "account_freeze":
            self.frozen[event.account_id] = (env.ts, event.reason)
        elif event.type == "account_unlock":
            self.frozen.pop(event.account_id, None)

    def commit(self, env: EvalEnv, verdict: str) -> None:
        return None

"""Firm-wide symbol watch: a coordinated pump raises the symbol's risk for every account (FSA 2025
request 3; in April 2025 brokers stopped accepting buy orders for the symbols that hijacked accounts
were pushing).

A *campaign buy* is a buy of a symbol the account never held or traded, within
``campaign_newdev_hours`` (default 6) of a login from a new device — the takeover pattern. When
``campaign_min_accounts`` (default 3) different accounts make campaign buys of one symbol within
``campaign_window_minutes`` (default 30), the symbol is *raised* for ``campaign_raise_hours``
(default 24): every further buy of it, by any account, reads ``symbol_risk_raised`` true, and the
rule set holds it for review. The thresholds are rule-set constants (``lists:``).

State follows the events' own times and is rebuilt on restore (no verdicts needed): a replay raises
the same symbols at the same moments.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from mamori.risk.features.base import EvalEnv, FeatureDef

DEFAULTS = {"campaign_min_accounts": 3, "campaign_window_minutes": 30, "campaign_raise_hours": 24,
            "campaign_newdev_hours": 6}
ORDERS = frozenset({"order", "execution", "order_cancel"})


class SymbolWatch:
    name = "symbol_watch"
    state_attributes = ("buyers", "raised")  # what an engine snapshot saves and restores

    def __init__(self) -> None:
        self.buyers: dict[str, deque[tuple[float, str]]] = {}  # symbol -> recent campaign buys (ts, account)
        self.raised: dict[str, tuple[float, float]] = {}  # symbol -> (raised at, until)
        self.configure({})

    def configure(self, constants: Mapping[str, Any]) -> None:
        value = {k: constants.get(k, v) for k, v in DEFAULTS.items()}
        self.min_accounts = int(value["campaign_min_accounts"])
        self.window_s = float(value["campaign_window_minutes"]) * 60
        self.raise_s = float(value["campaign_raise_hours"]) * 3600
        self.newdev_s = float(value["campaign_newdev_hours"]) * 3600

    def _raised(self, env: EvalEnv) -> tuple[float, float] | None:
        entry = self.raised.get(getattr(env.event, "symbol", ""))
        return entry if entry is not None and entry[0] <= env.ts < entry[1] else None

    def features(self) -> Iterable[FeatureDef]:
        yield FeatureDef("symbol_risk_raised", "The symbol is under a firm-wide watch: several unrelated accounts, "
                         "each just logged in from a new device, bought it for the first time within minutes "
                         "(thresholds: campaign_* constants).", "bool",
                         lambda env: self._raised(env) is not None, ORDERS)
        yield FeatureDef("symbol_raised_remaining_s", "Seconds left on the symbol's firm-wide watch (0 if none).",
                         "number", lambda env: (r[1] - env.ts) if (r := self._raised(env)) else 0.0, ORDERS)

    def observe(self, env: EvalEnv) -> None:
        event: Any = env.event
        if event.type != "order" or event.side != "buy" or not env["new_symbol"]:
            return
        since = env["secs_since_new_device_login"]
        if since is None or since > self.newdev_s:
            return
        recent = self.buyers.get(event.symbol)
        if recent is None:
            recent = self.buyers[event.symbol] = deque()
        recent.append((env.ts, event.account_id))
        while recent and recent[0][0] < env.ts - self.window_s:
            recent.popleft()
        if len({account for _, account in recent}) >= self.min_accounts:
            current = self.raised.get(event.symbol)
            start = env.ts if current is None or current[1] <= env.ts else current[0]
            self.raised[event.symbol] = (start, env.ts + self.raise_s)
        if len(self.buyers) > 50_000:  # bounded: forget symbols whose recent buys are all old
            for symbol in [s for s, q in self.buyers.items() if not q or q[-1][0] < env.ts - self.window_s]:
                del self.buyers[symbol]

    def commit(self, env: EvalEnv, verdict: str) -> None:
        return None

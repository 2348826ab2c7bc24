"""Trading limits (FSA 2025 request 3: set trading limits): the effective per-order and daily
(JST calendar day) buy and sell caps of the account, and what it has already traded today.

The effective limit is the lowest of the firm's default, the segment's override and the limit the
customer chose (an ``account_profile`` event; customers can only lower limits). The firm's values
are rule-set constants: ``firm_per_order_limit_jpy``, ``firm_daily_buy_limit_jpy``,
``firm_daily_sell_limit_jpy`` (numbers) and ``segment_per_order_limit_jpy`` / ``segment_daily_buy_limit_jpy`` /
``segment_daily_sell_limit_jpy`` (tables by segment). Today's totals count only orders the engine
allowed, so a refused order does not use up the customer's limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from mamori.risk.features.base import EvalEnv, FeatureDef
from mamori.risk.features.event_fields import JST_OFFSET_S, notional_jpy

ZERO = Decimal(0)
ORDER = frozenset({"order"})
KINDS = ("per_order", "daily_buy", "daily_sell")


def jst_day(ts: float) -> int:
    return int((ts + JST_OFFSET_S) // 86400)


class Limits:
    name = "limits"
    state_attributes = ("profiles", "today")  # what an engine snapshot saves and restores

    def __init__(self) -> None:
        self.profiles: dict[str, dict[str, Any]] = {}  # account -> segment and chosen limits
        self.today: dict[str, list[Any]] = {}  # account -> [JST day, bought, sold]
        self.configure({})

    def configure(self, constants: Mapping[str, Any]) -> None:
        self.firm = {k: _decimal(constants.get(f"firm_{k}_limit_jpy")) for k in KINDS}
        self.segment = {k: {s: Decimal(str(v)) for s, v in dict(constants.get(f"segment_{k}_limit_jpy") or {}).items()}
                        for k in KINDS}

    def _limit(self, kind: str) -> Callable[[EvalEnv], Decimal | None]:
        def compute(env: EvalEnv) -> Decimal | None:
            profile = self.profiles.get(env.event.account_id, {})
            candidates = [self.firm[kind], self.segment[kind].get(profile.get("segment") or ""),
                          profile.get(kind)]
            present = [c for c in candidates if c is not None]
            return min(present) if present else None

        return compute

    def _traded_today(self, side: int) -> Callable[[EvalEnv], Decimal]:
        def compute(env: EvalEnv) -> Decimal:
            day = self.today.get(env.event.account_id)
            return day[side] if day is not None and day[0] == jst_day(env.ts) else ZERO

        return compute

    def features(self) -> Iterable[FeatureDef]:
        yield FeatureDef("limit_per_order_jpy", "Effective cap on one order's yen value (lowest of firm, "
                         "segment and customer-chosen limits); None when no limit is set.", "decimal",
                         self._limit("per_order"), ORDER)
        yield FeatureDef("limit_daily_buy_jpy", "Effective cap on the yen value bought per JST day.", "decimal",
                         self._limit("daily_buy"), ORDER)
        yield FeatureDef("limit_daily_sell_jpy", "Effective cap on the yen value sold per JST day.", "decimal",
                         self._limit("daily_sell"), ORDER)
        yield FeatureDef("bought_today_jpy", "Yen value of the account's allowed buy orders earlier this JST "
                         "day.", "decimal", self._traded_today(1), ORDER)
        yield FeatureDef("sold_today_jpy", "Yen value of the account's allowed sell orders earlier this JST day.",
                         "decimal", self._traded_today(2), ORDER)
        yield FeatureDef("account_segment", "The account's segment from its latest account_profile.", "str",
                         lambda env: self.profiles.get(env.event.account_id, {}).get("segment"))

    def observe(self, env: EvalEnv) -> None:
        event: Any = env.event
        if event.type == "account_profile":
            self.profiles[event.account_id] = {
                "segment": event.segment, "per_order": event.per_order_limit_jpy,
                "daily_buy": event.daily_buy_limit_jpy, "daily_sell": event.daily_sell_limit_jpy}

    def commit(self, env: EvalEnv, verdict: str) -> None:
        event: Any = env.event
        if event.type != "order" or verdict != "allow":
            return
        value = notional_jpy(env)
        if value is None:
            return
        day = jst_day(env.ts)
        totals = self.today.get(event.account_id)
        if totals is None or totals[0] != day:
            totals = self.today[event.account_id] = [day, ZERO, ZERO]
        totals[1 if event.side == "buy" else 2] += value


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))

"""Per-account behaviour baselines: usual login hours, usual symbols, usual order size.

Baselines learn only from activity the engine **allowed** (an attacker's held orders must not teach
the account that large orders are normal) and they describe the account *before* this event.
Unlike windows they are order-insensitive summaries (histograms, counts, sums), so a late event
updates them the same way an on-time one does.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from mamori.risk.features.base import EvalEnv, FeatureDef
from mamori.risk.features.event_fields import jst_hour, notional_jpy

MIN_LOGINS_FOR_HOURS = 5
MIN_ORDERS_FOR_SIZE = 3


class AccountBaseline:
    __slots__ = ("login_hours", "logins", "order_count", "order_value_sum", "symbol_orders")

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, a) for a in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for attribute, value in zip(self.__slots__, state, strict=True):
            setattr(self, attribute, value)

    def __init__(self) -> None:
        self.login_hours = [0] * 24
        self.logins = 0
        self.order_count = 0
        self.order_value_sum = Decimal(0)
        self.symbol_orders: dict[str, int] = {}


class Baselines:
    name = "baselines"
    state_attributes = ("accounts",)  # what an engine snapshot saves and restores

    def __init__(self) -> None:
        self.accounts: dict[str, AccountBaseline] = {}

    def _get(self, env: EvalEnv) -> AccountBaseline | None:
        return self.accounts.get(env.event.account_id)

    def _hour_share(self, env: EvalEnv) -> float | None:
        base = self._get(env)
        if base is None or base.logins < MIN_LOGINS_FOR_HOURS:
            return None
        hour = jst_hour(env.ts)
        near = sum(base.login_hours[(hour + d) % 24] for d in (-1, 0, 1))
        return near / base.logins

    def _order_value_ratio(self, env: EvalEnv) -> Decimal | None:
        base = self._get(env)
        value = env["notional_jpy"]
        if base is None or value is None or base.order_count < MIN_ORDERS_FOR_SIZE:
            return None
        mean = base.order_value_sum / base.order_count
        return None if mean == 0 else value / mean

    def features(self) -> Iterable[FeatureDef]:
        yield FeatureDef("login_count", "Allowed successful logins of the account before this event.", "int",
                         lambda env: b.logins if (b := self._get(env)) else 0)
        yield FeatureDef("login_hour_share",
                         "Share of the account's earlier logins within one hour (JST) of this one's hour; "
                         f"None until it has {MIN_LOGINS_FOR_HOURS} logins.", "number", self._hour_share)
        yield FeatureDef("order_count", "Allowed orders of the account before this event.", "int",
                         lambda env: b.order_count if (b := self._get(env)) else 0)
        yield FeatureDef("order_value_ratio",
                         "This order's yen value divided by the account's mean order value; None until it "
                         f"has {MIN_ORDERS_FOR_SIZE} orders.", "decimal", self._order_value_ratio,
                         frozenset({"order"}))
        yield FeatureDef("symbol_order_count", "Allowed orders of the account in this symbol before.", "int",
                         lambda env: b.symbol_orders.get(env.event.symbol, 0)  # type: ignore[attr-defined]
                         if (b := self._get(env)) else 0, frozenset({"order", "order_cancel", "execution"}))

    def observe(self, env: EvalEnv) -> None:
        return None

    def commit(self, env: EvalEnv, verdict: str) -> None:
        if verdict != "allow":
            return
        event: Any = env.event
        if event.type == "login" and event.result == "success":
            base = self.accounts.setdefault(event.account_id, AccountBaseline())
            base.logins += 1
            base.login_hours[jst_hour(env.ts)] += 1
        elif event.type == "order":
            base = self.accounts.setdefault(event.account_id, AccountBaseline())
            value = notional_jpy(env)
            if value is not None:
                base.order_count += 1
                base.order_value_sum += value
            base.symbol_orders[event.symbol] = base.symbol_orders.get(event.symbol, 0) + 1

"""What the account holds, so that a sell-out of the holdings can be recognised.

Positions come from ``holdings_snapshot`` events (the firm's books; they replace what was known)
and are moved by executions (buys add, sells subtract, never below zero). Prices are the last
known price per symbol across the firm (executions, order reference prices, snapshot values).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from mamori.risk.features.base import EvalEnv, FeatureDef

ZERO = Decimal(0)


class Holdings:
    name = "holdings"
    state_attributes = ("positions", "last_price")  # what an engine snapshot saves and restores

    def __init__(self) -> None:
        self.positions: dict[str, dict[str, Decimal]] = {}
        self.last_price: dict[str, Decimal] = {}

    def _holding(self, env: EvalEnv) -> Decimal:
        symbol = getattr(env.event, "symbol", None)
        return self.positions.get(env.event.account_id, {}).get(symbol, ZERO) if symbol else ZERO

    def _value(self, env: EvalEnv) -> Decimal:
        total = ZERO
        for symbol, qty in self.positions.get(env.event.account_id, {}).items():
            price = self.last_price.get(symbol)
            if price is not None:
                total += qty * price
        return total

    def _sell_share(self, env: EvalEnv) -> Decimal | None:
        event: Any = env.event
        if event.side != "sell":
            return None
        held = self._holding(env)
        return None if held == 0 else min(event.quantity / held, Decimal(1))

    def features(self) -> Iterable[FeatureDef]:
        trades = frozenset({"order", "execution", "order_cancel"})
        yield FeatureDef("holding_qty", "Quantity of this symbol the account holds.", "decimal",
                         self._holding, trades)
        yield FeatureDef("holdings_value_jpy", "Yen value of everything the account holds (last prices).",
                         "decimal", self._value)
        yield FeatureDef("sell_share_of_position", "For a sell order: the share of the position in this "
                         "symbol it sells (0-1); None for buys or when nothing is held.", "decimal",
                         self._sell_share, frozenset({"order"}))

    def observe(self, env: EvalEnv) -> None:
        event: Any = env.event
        kind = event.type
        if kind == "execution":
            self.last_price[event.symbol] = event.price
            book = self.positions.setdefault(event.account_id, {})
            qty = book.get(event.symbol, ZERO)
            qty = qty + event.quantity if event.side == "buy" else max(ZERO, qty - event.quantity)
            book[event.symbol] = qty
        elif kind == "order":
            price = event.reference_price or event.price
            if price is not None and event.symbol not in self.last_price:
                self.last_price[event.symbol] = price
        elif kind == "holdings_snapshot":
            book = {}
            for p in event.positions:
                book[p.symbol] = p.quantity
                if p.market_value_jpy is not None and p.quantity > 0:
                    self.last_price[p.symbol] = p.market_value_jpy / p.quantity
            self.positions[event.account_id] = book

    def commit(self, env: EvalEnv, verdict: str) -> None:
        return None

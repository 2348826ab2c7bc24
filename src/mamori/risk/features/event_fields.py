"""Fields of the event itself (``event.<field>``) and values derived from it alone.

``notional_jpy`` is the yen value of the event: quantity × price for orders (limit price, or the
reference price for market orders) and executions in JPY, the amount of a fiat transfer in JPY, and
``amount_jpy`` of a crypto transfer. ``hour_jst`` / ``weekday_jst`` place the event in Japan time.
``symbol_base`` is the base asset of a currency-pair symbol (``BTC_JPY``, ``eth_jpy`` -> ``BTC``, ``ETH``),
so rules can tell crypto-asset pairs (listed in a rule-set constant) from securities codes (``7203``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Any

from mamori.events.models import EVENT_TYPES
from mamori.risk.features.base import EvalEnv, FeatureDef

JST = timezone(timedelta(hours=9), "JST")
JST_OFFSET_S = 9 * 3600  # Japan has no daylight saving time


def jst_hour(ts: float) -> int:
    """Hour of day in Japan time of a Unix timestamp (cheaper than ``datetime.astimezone``)."""
    return int((ts + JST_OFFSET_S) // 3600) % 24


def _field_getter(field: str) -> Any:
    def compute(env: EvalEnv) -> Any:
        return getattr(env.event, field, None)

    return compute


def notional_jpy(env: EvalEnv) -> Decimal | None:
    event: Any = env.event
    kind = event.type
    if kind in ("order", "execution"):
        if getattr(event, "currency", "JPY") != "JPY":
            return None
        price = getattr(event, "price", None) or getattr(event, "reference_price", None)
        return None if price is None else event.quantity * price
    if kind in ("fiat_deposit", "fiat_withdrawal"):
        return event.amount if event.currency == "JPY" else None
    if kind in ("crypto_deposit", "crypto_withdrawal"):
        return event.amount_jpy  # type: ignore[no-any-return]
    return None


def symbol_base(env: EvalEnv) -> str | None:
    """The base asset of a pair symbol ``BASE_QUOTE``, upper-cased (``btc_jpy`` -> ``BTC``); None for a symbol
    without the separator (securities codes such as ``7203`` or ``AAPL``)."""
    symbol = getattr(env.event, "symbol", None)
    if not symbol:
        return None
    base, found, quote = str(symbol).partition("_")
    return base.upper() if found and base and quote else None


class EventFields:
    name = "event_fields"
    stateless = True  # observe/commit do nothing: the engine skips them

    def features(self) -> Iterable[FeatureDef]:
        fields: dict[str, set[str]] = {}
        for type_name, model in EVENT_TYPES.items():
            for field in model.model_fields:
                fields.setdefault(field, set()).add(type_name)
        for field, types in sorted(fields.items()):
            description = next(iter(
                EVENT_TYPES[t].model_fields[field].description or field for t in sorted(types)))
            yield FeatureDef(f"event.{field}", description, "field", _field_getter(field),
                             None if len(types) == len(EVENT_TYPES) else frozenset(types))
        yield FeatureDef("notional_jpy", "Yen value of the order, execution or transfer.", "decimal",
                         notional_jpy, frozenset({"order", "execution", "fiat_deposit", "fiat_withdrawal",
                                                  "crypto_deposit", "crypto_withdrawal"}))
        yield FeatureDef("symbol_base", "Base asset of a currency-pair symbol, upper-cased (BTC_JPY or btc_jpy -> "
                         "BTC); None for symbols without the _ separator (securities codes).", "str", symbol_base,
                         frozenset({"order", "execution", "order_cancel"}))
        yield FeatureDef("hour_jst", "Hour of day (0-23) in Japan time when the event occurred.", "int",
                         lambda env: jst_hour(env.ts))
        yield FeatureDef("weekday_jst", "Day of week in Japan time (0 = Monday).", "int",
                         lambda env: (int((env.ts + JST_OFFSET_S) // 86400) + 3) % 7)

    def observe(self, env: EvalEnv) -> None:
        return None

    def commit(self, env: EvalEnv, verdict: str) -> None:
        return None

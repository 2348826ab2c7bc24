"""Market data the firm supplies: average daily value traded per symbol, and the thin symbols that
follow from it (issue 3: thin = low average daily value traded; the 2025 hijacked accounts were made
to buy such symbols to push their price).

Constants (``lists:``), typically in a ``market.yaml`` the firm regenerates each night with
``mamori market adv-import``:

* ``adv_jpy_by_symbol`` — a table ``{symbol: average daily value traded in yen}``;
* ``thin_adv_jpy`` — below this ADV a symbol is thin (default ¥100,000,000);
* ``thin_symbols`` — symbols the firm lists as thin by hand (kept: they count whatever their ADV).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from mamori.risk.features.base import EvalEnv, FeatureDef

DEFAULT_THIN_ADV_JPY = Decimal(100_000_000)
ORDERS = frozenset({"order", "execution", "order_cancel"})


class Market:
    name = "market"
    stateless = True  # configuration only: nothing to snapshot

    def __init__(self) -> None:
        self.configure({})

    def configure(self, constants: Mapping[str, Any]) -> None:
        table = constants.get("adv_jpy_by_symbol") or {}
        self.adv = {str(symbol): Decimal(str(value)) for symbol, value in dict(table).items()}
        self.thin_adv = Decimal(str(constants.get("thin_adv_jpy", DEFAULT_THIN_ADV_JPY)))
        self.listed_thin = frozenset(str(s) for s in constants.get("thin_symbols") or ())

    def _adv(self, env: EvalEnv) -> Decimal | None:
        return self.adv.get(getattr(env.event, "symbol", ""))

    def _thin(self, env: EvalEnv) -> bool:
        symbol = getattr(env.event, "symbol", "")
        adv = self.adv.get(symbol)
        return symbol in self.listed_thin or (adv is not None and adv < self.thin_adv)

    def _share(self, env: EvalEnv) -> float | None:
        adv, notional = self._adv(env), env["notional_jpy"]
        if adv is None or notional is None or adv <= 0:
            return None
        return float(notional / adv)

    def features(self) -> Iterable[FeatureDef]:
        yield FeatureDef("symbol_adv_jpy", "The symbol's average daily value traded in yen, from the firm's market "
                         "data (adv_jpy_by_symbol); None when not supplied.", "decimal", self._adv, ORDERS)
        yield FeatureDef("symbol_is_thin", "The symbol is thinly traded: listed in thin_symbols, or its ADV is below "
                         "thin_adv_jpy (default ¥100,000,000).", "bool", self._thin, ORDERS)
        yield FeatureDef("order_share_of_adv", "The order's yen value as a share of the symbol's average daily value "
                         "traded (0.1 = a tenth of a normal day's trading); None without market data.", "number",
                         self._share, ORDERS)

    def observe(self, env: EvalEnv) -> None:
        return None

    def commit(self, env: EvalEnv, verdict: str) -> None:
        return None

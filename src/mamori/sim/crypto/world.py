"""The simulated crypto-asset exchange's world: assets and prices, the event plan and its labels.

The exchange (``mamori-ex`` in the simulated chain) lists BTC, ETH and XRP against yen (product codes
``BTC_JPY``, ``ETH_JPY``, ``XRP_JPY``, the style Japanese exchanges use; the event contract's symbol
pattern has no ``/``). Prices follow a seeded daily random walk. Everything the customers and the
attackers do is written into a :class:`Plan`: wire-format events (event contract version 1) with a
side-table :class:`Label` per event (never inside the event: the contract forbids extra fields).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal
from typing import Any

JST = timezone(timedelta(hours=9))
SIM_EPOCH = datetime(2026, 5, 4, tzinfo=JST)  # a Monday, 00:00 JST
MARKET = "SPOT"

# asset -> (chain, yen price at the start, daily volatility, decimals shown on the wire)
ASSETS: dict[str, tuple[str, float, float, int]] = {
    "BTC": ("bitcoin", 14_500_000.0, 0.025, 8),
    "ETH": ("ethereum", 480_000.0, 0.03, 8),
    "XRP": ("xrp", 340.0, 0.04, 6),
}
CHAIN_OF = {asset: spec[0] for asset, spec in ASSETS.items()}
CHAINS: tuple[str, ...] = ("bitcoin", "ethereum", "xrp")
NATIVE = {chain: asset for asset, chain in CHAIN_OF.items()}

ATTACK_TYPOLOGIES: tuple[str, ...] = ("investment_scam_victim", "romance_scam_victim", "online_casino", "mule",
                                      "takeover_withdrawal", "layering")
BENIGN_TYPOLOGIES: tuple[str, ...] = ("benign_active_trader", "benign_own_wallet", "benign_payday_buyer",
                                      "benign_exchange_rebalance")
TYPOLOGIES: tuple[str, ...] = ATTACK_TYPOLOGIES + BENIGN_TYPOLOGIES
REFERENCE_CASES: dict[str, tuple[str, ...]] = {  # typology -> FSA reference cases (mamori.aml.reference_cases)
    "investment_scam_victim": ("F1", "C12", "C10"),
    "romance_scam_victim": ("F1", "C12"),
    "online_casino": ("F3",),
    "mule": ("F2", "C12", "C13", "C14"),
    "takeover_withdrawal": ("C6",),
    "layering": ("C8", "C11", "C13", "C14"),
}


def symbol(asset: str) -> str:
    return f"{asset}_JPY"


def quantise(amount: float | Decimal, asset: str) -> Decimal:
    """The asset amount rounded down to its wire precision (a withdrawal never exceeds the balance)."""
    places = ASSETS[asset][3]
    return Decimal(str(amount)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)


def text(amount: Decimal) -> str:
    """Exact decimal text without exponent or trailing zeros."""
    s = format(amount.normalize(), "f")
    return s if s not in ("-0", "") else "0"


def yen(x: float) -> str:
    return str(round(x))


class Prices:
    """Daily closing yen prices per asset as a seeded random walk; intraday prices wobble around them."""

    def __init__(self, rng: random.Random, days: int) -> None:
        self.days = days
        self.close: dict[str, list[float]] = {}
        for asset, (_, base, vol, _) in ASSETS.items():
            path = [base]
            for _ in range(days + 2):
                path.append(path[-1] * math.exp(rng.gauss(0.0, vol)))
            self.close[asset] = path

    def price(self, asset: str, day: int, rng: random.Random | None = None) -> float:
        p = self.close[asset][max(0, min(day, self.days + 1))]
        if rng is not None:
            p *= 1.0 + rng.uniform(-0.004, 0.004)
        return round(p, 3) if p < 1000 else float(round(p))


@dataclass(frozen=True, slots=True)
class Label:
    """The side-table entry of one event.

    ``typology`` is the labelled behaviour (an attack typology, a ``benign_*`` look-alike) or ``None``
    for plain normal behaviour; ``episode`` groups the events of one labelled episode (one account's
    part in a typology, e.g. ``K0007``); ``actor`` says who acts: the customer, an attacker holding the
    account (takeover), or the exchange itself (none today); ``session`` is the simulated session."""

    typology: str | None
    episode: str | None
    actor: str = "customer"
    session: str | None = None

    def to_dict(self, event_id: str) -> dict[str, Any]:
        return {"event_id": event_id, "typology": self.typology, "episode": self.episode, "actor": self.actor,
                "session": self.session}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Label:
        return cls(typology=d.get("typology"), episode=d.get("episode"), actor=str(d.get("actor") or "customer"),
                   session=d.get("session"))


NORMAL = Label(None, None)


def iso(t: float) -> str:
    return datetime.fromtimestamp(int(t), JST).isoformat()


def iso_utc(t: float) -> str:
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Plan:
    """The growing plan: wire events with labels and ids, in the order written (sorted at the end)."""

    def __init__(self, prefix: str, start: datetime, days: int) -> None:
        self.prefix = prefix
        self.start = start.timestamp()
        self.days = days
        self.end = self.start + days * 86400
        self.items: list[tuple[float, int, dict[str, Any], Label]] = []
        self._n = 0

    def next_id(self, kind: str) -> str:
        self._n += 1
        return f"{self.prefix}{kind}{self._n:07d}"

    def add(self, t: float, kind: str, account: str, label: Label, **fields: Any) -> str:
        eid = self.next_id("e")
        body: dict[str, Any] = {"id": eid, "type": kind, "occurred_at": iso(t), "account_id": account}
        body.update({k: v for k, v in fields.items() if v is not None})
        self.items.append((float(int(t)), self._n, body, label))
        return eid

    def day_of(self, t: float) -> int:
        return int((t - self.start) // 86400)

    def day_start(self, day: int) -> float:
        return self.start + day * 86400

    def weekday(self, day: int) -> int:
        return datetime.fromtimestamp(self.day_start(day) + 43200, JST).weekday()

    def within(self, t: float) -> bool:
        return self.start <= t < self.end

"""The vocabulary of address screening, shared by the lists, the screening index, the engine
features, the tracer (:mod:`mamori.aml.tracer`) and the simulator.

* :class:`RiskCategory` — what a listed address or entity is (FATF's virtual-asset red-flag
  indicators, 2020, name mixers, darknet markets, ransomware, scams, sanctioned parties and stolen
  funds; online casinos are illegal gambling in Japan and the FSA asks exchanges to stop transfers
  to them).
* :class:`ListEntry` — one entry of a risk list: an address on a chain, or a named entity.
* :class:`ScreeningHit` / :class:`ScreeningResult` — what screening one address answered.
* :class:`LabelLookup` / :class:`ExposureLookup` — the ports the tracer and the engine features use
  (direct labels; indirect exposure within n hops).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final, Protocol


class RiskCategory(StrEnum):
    scam = "scam"
    online_casino = "online_casino"
    mixer = "mixer"
    sanctioned = "sanctioned"
    darknet = "darknet"
    stolen_funds = "stolen_funds"
    ransomware = "ransomware"
    fraud_collection = "fraud_collection"
    """A collection point of fraud proceeds (many victims send to one address)."""
    mule = "mule"
    gambling = "gambling"
    """Licensed or unknown-status gambling (not necessarily an illegal online casino)."""
    exchange = "exchange"
    payment_processor = "payment_processor"
    other = "other"


CATEGORY_LABELS: Final[dict[RiskCategory, tuple[str, str]]] = {
    RiskCategory.scam: ("詐欺", "Scam"),
    RiskCategory.online_casino: ("オンラインカジノ", "Online casino"),
    RiskCategory.mixer: ("ミキサー", "Mixer"),
    RiskCategory.sanctioned: ("制裁対象", "Sanctioned"),
    RiskCategory.darknet: ("ダークネット市場", "Darknet market"),
    RiskCategory.stolen_funds: ("窃取資産", "Stolen funds"),
    RiskCategory.ransomware: ("ランサムウェア", "Ransomware"),
    RiskCategory.fraud_collection: ("詐欺資金の集約先", "Fraud collection point"),
    RiskCategory.mule: ("不正口座（ミュール）", "Money mule"),
    RiskCategory.gambling: ("ギャンブル", "Gambling"),
    RiskCategory.exchange: ("暗号資産交換業者", "Exchange"),
    RiskCategory.payment_processor: ("決済代行", "Payment processor"),
    RiskCategory.other: ("その他", "Other"),
}

RISKY_CATEGORIES: Final[frozenset[RiskCategory]] = frozenset(
    c for c in RiskCategory if c not in (RiskCategory.exchange, RiskCategory.payment_processor))
"""Categories that are a risk in themselves (every one but exchange and payment processor)."""

STOP_CATEGORIES: Final[frozenset[RiskCategory]] = frozenset({
    RiskCategory.exchange, RiskCategory.online_casino, RiskCategory.mixer,
    RiskCategory.payment_processor, RiskCategory.gambling,
})
"""Entities where a forward trace stops: funds are pooled there and no longer follow one owner."""

SEVERE_CATEGORIES: Final[frozenset[RiskCategory]] = frozenset({
    RiskCategory.sanctioned, RiskCategory.scam, RiskCategory.fraud_collection, RiskCategory.online_casino,
    RiskCategory.mixer, RiskCategory.stolen_funds, RiskCategory.ransomware, RiskCategory.darknet,
})
"""Categories for which the built-in rules stop (hold or block) a withdrawal on direct exposure."""


def risk_category(value: str) -> RiskCategory:
    """Parse a category name (case and ``-``/space insensitive); ``ValueError`` names the known ones."""
    key = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return RiskCategory(_CATEGORY_ALIASES.get(key, key))
    except ValueError:
        raise ValueError(f"unknown category {value!r}; known: {', '.join(RiskCategory)}") from None


_CATEGORY_ALIASES: Final[dict[str, str]] = {
    "casino": "online_casino", "sanctions": "sanctioned", "ofac": "sanctioned", "darknet_market": "darknet",
    "stolen": "stolen_funds", "hack": "stolen_funds", "theft": "stolen_funds", "fraud": "scam",
    "money_mule": "mule", "collection": "fraud_collection", "tumbler": "mixer", "cex": "exchange",
    "詐欺": "scam", "オンラインカジノ": "online_casino", "カジノ": "online_casino", "ミキサー": "mixer",
    "制裁": "sanctioned", "制裁対象": "sanctioned", "窃取": "stolen_funds", "交換業者": "exchange",
}


class EntryKind(StrEnum):
    address = "address"
    entity = "entity"
    """A named person or organisation (sanctions lists, the firm's own watch list)."""


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One risk-list entry. An address entry has ``chain`` and a normalised ``address``; an entity entry
    has ``name`` (and optional ``aliases``) and no address. ``confidence`` is 0–1."""

    kind: EntryKind
    category: RiskCategory
    source: str
    chain: str | None = None
    address: str | None = None
    name: str | None = None
    aliases: tuple[str, ...] = ()
    confidence: Decimal = Decimal(1)
    first_seen: datetime | None = None
    expires_at: datetime | None = None
    reference: str | None = None
    added_by: str | None = None
    id: int | None = None

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True, slots=True)
class ScreeningHit:
    """One list entry that matched. ``hops`` is 0 for a direct match, n for exposure within n hops."""

    category: RiskCategory
    source: str
    confidence: Decimal
    entry_id: int | None = None
    name: str | None = None
    reference: str | None = None
    hops: int = 0
    provider: str = "local"

    def as_dict(self) -> dict[str, object]:
        return {"category": self.category.value, "source": self.source, "confidence": str(self.confidence),
                "entry_id": self.entry_id, "name": self.name, "reference": self.reference,
                "hops": self.hops, "provider": self.provider}


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    """The answer for one (chain, address): every hit, strongest first (severity, then confidence).
    ``errors`` names the attribution providers that could not answer (the answer may be incomplete)."""

    chain: str
    address: str
    hits: tuple[ScreeningHit, ...] = field(default=())
    errors: tuple[str, ...] = field(default=())

    @property
    def listed(self) -> bool:
        return bool(self.hits)

    @property
    def top(self) -> ScreeningHit | None:
        return self.hits[0] if self.hits else None

    @property
    def category(self) -> RiskCategory | None:
        return self.hits[0].category if self.hits else None

    @property
    def confidence(self) -> Decimal | None:
        return self.hits[0].confidence if self.hits else None

    @property
    def risky(self) -> bool:
        return any(h.category in RISKY_CATEGORIES for h in self.hits)

    def as_dict(self) -> dict[str, object]:
        return {"chain": self.chain, "address": self.address, "listed": self.listed,
                "category": self.category.value if self.category else None,
                "confidence": str(self.confidence) if self.confidence is not None else None,
                "hits": [h.as_dict() for h in self.hits], **({"errors": list(self.errors)} if self.errors else {})}


def hit_order(hit: ScreeningHit) -> tuple[int, int, Decimal]:
    """Sort key: severe categories first, then risky, then others; nearer hops; higher confidence."""
    rank = 0 if hit.category in SEVERE_CATEGORIES else 1 if hit.category in RISKY_CATEGORIES else 2
    return (rank, hit.hops, -hit.confidence)


class LabelLookup(Protocol):
    """Direct attribution of one address (the tracer stops or flags on it). ``chain`` is canonical and
    ``address`` normalised, as the chain graph stores them (called once per node of a walk: no
    re-validation, no network calls)."""

    def label(self, chain: str, address: str) -> RiskCategory | None: ...


class ExposureLookup(Protocol):
    """Indirect exposure: the nearest risky category within reach of ``address`` and the number of
    hops to it (1 = direct counterparty of a listed address). ``None`` when none is known."""

    def exposure(self, chain: str, address: str) -> tuple[RiskCategory, int] | None: ...

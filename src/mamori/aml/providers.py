"""Attribution providers: who else can say what an address is.

mamori's default answer comes from the firm's own risk lists (:class:`LocalListsProvider`, backed by
the in-memory screening index). Commercial attribution services (Chainalysis KYT/Address Screening,
Elliptic, TRM Labs and similar) plug in as further :class:`AttributionProvider` objects: an adapter
calls the vendor's API, maps its categories onto :class:`~mamori.aml.model.RiskCategory`, and returns
:class:`~mamori.aml.model.ScreeningHit` objects with ``provider`` set to its name. The screener merges
every provider's hits (strongest first).

Writing an adapter (see ``docs/aml.md``): keep it in the adapters layer, give it a timeout and a
cache (vendors price per call, and the engine screens every crypto transfer), and make ``attribute``
raise :class:`ProviderUnavailable` on a timeout or an error — the screener records the failure on
the result and the engine's money-movement rules fail closed (hold) when a rule reading the
screening features fails. Tests use :class:`StaticProvider`; no test calls a vendor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from mamori.aml.model import RiskCategory, ScreeningHit


class ProviderUnavailable(Exception):
    """The provider could not answer (timeout, quota, vendor error)."""


class AttributionProvider(Protocol):
    """Attribution of one normalised address on a canonical chain."""

    name: str

    def attribute(self, chain: str, address: str) -> Sequence[ScreeningHit]: ...


class LocalListsProvider:
    """The firm's own lists, through whatever index ``lookup`` reads (the screener's current one)."""

    name = "local"

    def __init__(self, lookup: Callable[[str, str], Sequence[ScreeningHit]]) -> None:
        self._lookup = lookup

    def attribute(self, chain: str, address: str) -> Sequence[ScreeningHit]:
        return self._lookup(chain, address)


class StaticProvider:
    """A fixed table (chain, address) -> category: for tests and for a vendor's offline export."""

    def __init__(self, name: str, table: Mapping[tuple[str, str], RiskCategory], *,
                 confidence: Decimal = Decimal("0.9")) -> None:
        self.name = name
        self._table = dict(table)
        self._confidence = confidence
        self.calls = 0

    def attribute(self, chain: str, address: str) -> Sequence[ScreeningHit]:
        self.calls += 1
        category = self._table.get((chain, address))
        if category is None:
            return ()
        return (ScreeningHit(category=category, source=self.name, confidence=self._confidence, provider=self.name),)

"""Address and name screening against the risk lists.

:class:`ScreeningIndex` is an immutable in-memory snapshot of the active list entries: a dictionary
from (chain, normalised address) to the hits, strongest first, and a name index of the listed
entities. :class:`Screener` holds the current index and swaps it for a new one atomically (one
reference assignment) when the lists change — the engine keeps screening on the old index while the
new one is built. A screening is one address normalisation plus one dictionary probe (plus any
commercial :class:`~mamori.aml.providers.AttributionProvider`); expiry is checked per hit, so an entry
stops matching at its ``expires_at`` even before the next rebuild.

FATF Recommendation 15 and its 2021 guidance on virtual assets (para. 179–183: screening of
counterparty wallets) and the FSA's AML/CFT guidelines II-2(3)(iii) (transaction filtering against
sanctions and the firm's own lists) are what this implements.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from rapidfuzz import fuzz, process

from mamori.aml.addresses import normalise_address, normalise_chain
from mamori.aml.lists import ListStore
from mamori.aml.model import (
    EntryKind,
    ExposureLookup,
    ListEntry,
    RiskCategory,
    ScreeningHit,
    ScreeningResult,
    hit_order,
    risk_category,
)
from mamori.aml.names import DEFAULT_THRESHOLD, NameForms, NameMatch, compare
from mamori.aml.providers import AttributionProvider, ProviderUnavailable

log = logging.getLogger("mamori.aml.screening")

_Hit = tuple[ScreeningHit, int | None]  # (hit, expires_at_us)
_NAME_CANDIDATES: Final = 25


def _hit_of(entry: ListEntry) -> _Hit:
    expires = None if entry.expires_at is None else int(entry.expires_at.timestamp() * 1_000_000)
    return (ScreeningHit(category=entry.category, source=entry.source, confidence=entry.confidence,
                         entry_id=entry.id, name=entry.name, reference=entry.reference), expires)


@dataclass(frozen=True, slots=True)
class NameHit:
    """A listed entity whose name matched, and why."""

    entry: ListEntry
    match: NameMatch

    def as_dict(self) -> dict[str, object]:
        return {"entry_id": self.entry.id, "name": self.entry.name, "category": self.entry.category.value,
                "source": self.entry.source, "confidence": str(self.entry.confidence),
                "reference": self.entry.reference, "match": self.match.as_dict()}


class ScreeningIndex:
    """An immutable snapshot of the active list entries."""

    def __init__(self, entries: Iterable[ListEntry], *, version: int = 0) -> None:
        self.version = version
        addresses: dict[tuple[str, str], list[_Hit]] = {}
        entities: list[ListEntry] = []
        for entry in entries:
            if entry.kind is EntryKind.address and entry.chain and entry.address:
                addresses.setdefault((entry.chain, entry.address), []).append(_hit_of(entry))
            elif entry.kind is EntryKind.entity and entry.name:
                entities.append(entry)
        self._addresses: dict[tuple[str, str], tuple[_Hit, ...]] = {
            key: tuple(sorted(hits, key=lambda h: hit_order(h[0]))) for key, hits in addresses.items()}
        self._entities = entities
        self._forms: list[tuple[int, NameForms]] = []
        keys: list[str] = []
        self._key_owner: list[int] = []
        for position, entry in enumerate(entities):
            for text in (entry.name or "", *entry.aliases):
                forms = NameForms.of(text)
                self._forms.append((position, forms))
                for key in {*forms.script_keys, *forms.romaji_keys}:
                    keys.append(key)
                    self._key_owner.append(len(self._forms) - 1)
        self._keys = keys

    @property
    def address_count(self) -> int:
        return len(self._addresses)

    @property
    def entity_count(self) -> int:
        return len(self._entities)

    def lookup(self, chain: str, address: str, now_us: int) -> tuple[ScreeningHit, ...]:
        """Hits for a canonical chain and a normalised address, leaving out expired entries."""
        hits = self._addresses.get((chain, address))
        if not hits:
            return ()
        return tuple(h for h, expires in hits if expires is None or expires > now_us)

    def label(self, chain: str, address: str, now_us: int) -> RiskCategory | None:
        hits = self.lookup(chain, address, now_us)
        return hits[0].category if hits else None

    def screen_names(self, names: Sequence[str], *, threshold: float = DEFAULT_THRESHOLD,
                     now_us: int) -> list[NameHit]:
        """Listed entities matching any of ``names`` (kanji, kana reading, romaji), best first."""
        best: dict[int, NameHit] = {}
        cutoff = threshold * 100
        for name in names:
            if not name or not name.strip():
                continue
            query = NameForms.of(name)
            candidates: set[int] = set()
            for key in {*query.script_keys, *query.romaji_keys}:
                for _key, _score, index in process.extract(key, self._keys, scorer=fuzz.ratio, score_cutoff=cutoff,
                                                           limit=_NAME_CANDIDATES):
                    candidates.add(self._key_owner[index])
            for form_index in candidates:
                position, forms = self._forms[form_index]
                entry = self._entities[position]
                if entry.expires_at is not None and entry.expires_at.timestamp() * 1_000_000 <= now_us:
                    continue
                result = compare(query, forms)
                if result.score >= threshold and (position not in best or result.score > best[position].match.score):
                    best[position] = NameHit(entry, result)
        return sorted(best.values(), key=lambda h: (-h.match.score, h.entry.id or 0))


def _now_us() -> int:
    return time.time_ns() // 1000


class Screener:
    """Screens addresses on the current index (swapped atomically), plus any commercial providers.

    Implements :class:`~mamori.aml.model.LabelLookup` and :class:`~mamori.aml.model.ExposureLookup`
    (the latter through an attached lookup, e.g. the tracer's graph; None when none is attached)."""

    def __init__(self, store: ListStore | None = None, *, providers: Sequence[AttributionProvider] = (),
                 exposure_lookup: ExposureLookup | None = None, clock: Callable[[], int] = _now_us,
                 refresh_every_s: float = 5.0) -> None:
        self.store = store
        self.providers = list(providers)
        self.exposure_lookup = exposure_lookup
        self.clock = clock
        self.refresh_every_s = refresh_every_s
        self.index = ScreeningIndex(())
        self._last_check = float("-inf")
        self._lock = threading.Lock()
        if store is not None:
            self.reload()

    @classmethod
    def from_entries(cls, entries: Iterable[ListEntry], **kwargs: object) -> Screener:
        screener = cls(None, **kwargs)  # type: ignore[arg-type]
        screener.index = ScreeningIndex(entries)
        return screener

    def reload(self) -> ScreeningIndex:
        """Build a new index from the store and swap it in."""
        if self.store is None:
            return self.index
        with self._lock:
            version = self.store.version()
            index = ScreeningIndex(self.store.iter_active(self.clock()), version=version)
            self.index = index  # one reference assignment: readers see the old or the new index, whole
            self._last_check = time.monotonic()
        return index

    def maybe_refresh(self) -> None:
        """Rebuild when another process (CLI import, another worker) changed the lists; checks the store's
        version at most every ``refresh_every_s`` seconds."""
        now = time.monotonic()
        if self.store is None or now - self._last_check < self.refresh_every_s:
            return
        self._last_check = now
        try:
            changed = self.store.version() != self.index.version
        except Exception:  # the database is briefly unavailable: keep screening on the current index
            return
        if changed:
            self.reload()

    def screen(self, chain: str, address: str, *, now_us: int | None = None) -> ScreeningResult:
        """Screen one address on the current index (never reads the store: the engine calls this per
        event; :func:`refresh_periodically` swaps in new indexes). Raises ``UnknownChain`` /
        ``InvalidAddress`` for bad input."""
        canonical = normalise_chain(chain)
        normalised = normalise_address(canonical, address)
        now = self.clock() if now_us is None else now_us
        hits = self.index.lookup(canonical, normalised, now)
        if not self.providers:
            return ScreeningResult(canonical, normalised, hits)
        merged, errors = list(hits), []
        for provider in self.providers:
            try:
                merged.extend(provider.attribute(canonical, normalised))
            except ProviderUnavailable as exc:
                errors.append(f"{provider.name}: {exc}"[:200])
        return ScreeningResult(canonical, normalised, tuple(sorted(merged, key=hit_order)), tuple(errors))

    @property
    def version(self) -> int:
        """The lists' version the current index was built from (derived answers, e.g. cached exposure,
        are keyed on it)."""
        return self.index.version

    def label(self, chain: str, address: str) -> RiskCategory | None:
        """The local lists' label of a canonical chain and normalised address (graph nodes): an index
        lookup, per node of a trace or exposure walk (commercial providers are asked per screened event,
        not per node)."""
        return self.index.label(chain, address, self.clock())

    def exposure(self, chain: str, address: str) -> tuple[RiskCategory, int] | None:
        if self.exposure_lookup is None:
            return None
        return self.exposure_lookup.exposure(chain, address)

    def screen_names(self, names: Sequence[str], *, threshold: float = DEFAULT_THRESHOLD) -> list[NameHit]:
        return self.index.screen_names(names, threshold=threshold, now_us=self.clock())


async def refresh_periodically(screener: Screener, interval_s: float = 5.0) -> None:
    """Pick up list changes made elsewhere (a CLI import, another node) in the background, so that the
    store query and the index rebuild never run inside a decision. A failing round is logged and retried."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(screener.maybe_refresh)
        except Exception:
            log.exception("could not refresh the screening lists; retrying in %.0f s", interval_s)


class StaticExposure:
    """A fixed table (chain, address) -> (category, hops): for rule tests and offline exposure exports."""

    def __init__(self, table: dict[tuple[str, str], tuple[RiskCategory, int]]) -> None:
        self._table = dict(table)

    def exposure(self, chain: str, address: str) -> tuple[RiskCategory, int] | None:
        return self._table.get((chain, address))


def static_screener(risk_list: Sequence[dict[str, object]] = (),
                    exposure: Sequence[dict[str, object]] = ()) -> Screener:
    """A screener over entries given inline (the list import format: chain, address or name, category,
    source, confidence …) and an optional exposure table (chain, address, category, hops) — what a rule
    test's ``risk_list:`` and ``exposure:`` sections hold (:mod:`mamori.risk.ruletest`). Bad entries raise
    ``ValueError`` naming the entry."""
    from mamori.aml.imports import entry_from_row

    entries = []
    for index, row in enumerate(risk_list, start=1):
        try:
            entries.append(entry_from_row({k: str(v) for k, v in row.items()}, {"source": "rule-test"}))
        except Exception as exc:
            raise ValueError(f"risk_list entry {index}: {getattr(exc, 'message', exc)}") from None
    table: dict[tuple[str, str], tuple[RiskCategory, int]] = {}
    for index, row in enumerate(exposure, start=1):
        try:
            chain = normalise_chain(str(row["chain"]))
            key = (chain, normalise_address(chain, str(row["address"])))
            table[key] = (risk_category(str(row["category"])), int(str(row["hops"])))
        except Exception as exc:
            raise ValueError(f"exposure entry {index}: {getattr(exc, 'message', exc)}") from None
    return Screener.from_entries(entries, exposure_lookup=StaticExposure(table) if table else None)

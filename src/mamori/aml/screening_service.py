"""The screening service the HTTP API, the CLI and the risk service share: list imports (files and
the firm's own closed cases), removals, search, export and screening — every action audited.

Audit records (:meth:`SqlStore.audit`) hold batch and entry ids, counts, formats and categories,
never names or addresses: ``aml.lists.import``, ``aml.lists.import_cases``, ``aml.lists.remove``,
``aml.lists.search``, ``aml.lists.export``, ``aml.screen`` (counts of screened and listed),
``aml.screen_names`` (counts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import orjson
from sqlalchemy import Engine, select

from mamori.adapters.sql.schema import alerts, events
from mamori.adapters.sql.store import SqlStore, now_us
from mamori.aml import imports
from mamori.aml.addresses import normalise_address, normalise_chain
from mamori.aml.lists import ImportReport, LineError, ListStore
from mamori.aml.model import EntryKind, ListEntry, RiskCategory, ScreeningResult, risk_category
from mamori.aml.names import DEFAULT_THRESHOLD
from mamori.aml.providers import AttributionProvider
from mamori.aml.screening import NameHit, Screener
from mamori.cases.store import case_alerts, cases
from mamori.cases.store import create_tables as create_case_tables
from mamori.kit.errors import InvalidAddress, InvalidRequest, MamoriError, NotFound, UnknownChain

log = logging.getLogger("mamori.aml")

CASES_SOURCE: Final = "mamori-cases"
FRAUD_DISPOSITIONS: Final = ("confirmed_takeover", "fraud_attempt_blocked")
MAX_BATCH_SCREEN: Final = 10_000
MAX_CASE_ALERTS: Final = 100_000


class ScreeningService:
    def __init__(self, store: SqlStore, *, providers: Sequence[AttributionProvider] = (),
                 clock: Callable[[], int] = now_us) -> None:
        self.store = store
        self.clock = clock
        self.lists = ListStore(store.engine)
        self.screener = Screener(self.lists, providers=providers, clock=clock)

    # -- imports -------------------------------------------------------------------------------
    def import_file(self, data: bytes, fmt: str, *, source: str, actor: str, default_category: str | None = None,
                    filename: str | None = None) -> ImportReport:
        if not source or len(source) > 128:
            raise InvalidRequest("source must be 1–128 characters", details={"field": "source"})
        entries, errors = imports.parse(data, fmt, source=source, default_category=default_category, added_by=actor)
        report = self.lists.upsert(entries, source=source, fmt=fmt.lower(), actor=actor, now_us=self.clock(),
                                   filename=filename, errors=errors)
        self.store.audit(actor=actor, action="aml.lists.import", target=f"aml-batch:{report.batch_id}",
                         details={"format": report.format, "added": report.added, "updated": report.updated,
                                  "rejected": report.rejected})
        self.screener.reload()
        return report

    def import_closed_cases(self, *, actor: str, category: RiskCategory = RiskCategory.fraud_collection,
                            confidence: Decimal = Decimal("0.9")) -> ImportReport:
        """Add the crypto withdrawal destinations of cases closed as a confirmed takeover or a blocked fraud
        attempt (the firm's own evidence) to the lists, source ``mamori-cases``, reference ``case:<id>``."""
        entries, errors = cases_destinations(self.store.engine, category=category, confidence=confidence, actor=actor)
        report = self.lists.upsert(entries, source=CASES_SOURCE, fmt="cases", actor=actor, now_us=self.clock(),
                                   errors=errors)
        self.store.audit(actor=actor, action="aml.lists.import_cases", target=f"aml-batch:{report.batch_id}",
                         details={"added": report.added, "updated": report.updated, "rejected": report.rejected})
        self.screener.reload()
        return report

    def remove(self, entry_ids: Sequence[int], *, actor: str, reason: str | None = None) -> list[ListEntry]:
        if not entry_ids or len(entry_ids) > 10_000:
            raise InvalidRequest("give 1–10000 entry ids", details={"field": "ids"})
        removed = self.lists.remove(entry_ids)
        if not removed:
            raise NotFound("no such list entries", details={"ids": list(entry_ids)[:20]})
        self.store.audit(actor=actor, action="aml.lists.remove", target=f"aml-entries:{len(removed)}",
                         details={"ids": [e.id for e in removed][:1000],
                                  "categories": sorted({e.category.value for e in removed}),
                                  "reason_given": bool(reason)})
        self.screener.reload()
        return removed

    # -- reads ---------------------------------------------------------------------------------
    def search(self, *, actor: str, text: str | None = None, chain: str | None = None, category: str | None = None,
               source: str | None = None, kind: str | None = None, active_only: bool = False, limit: int = 100,
               after_id: int = 0) -> list[ListEntry]:
        if chain is not None:
            chain = normalise_chain(chain)
        if category is not None:
            category = _category(category).value
        if kind is not None and kind not in ("address", "entity"):
            raise InvalidRequest("kind must be address or entity", details={"field": "kind"})
        entries = self.lists.search(text=text, chain=chain, category=category, source=source, kind=kind,
                                    include_expired=not active_only, now_us=self.clock(), limit=limit,
                                    after_id=after_id)
        self.store.audit(actor=actor, action="aml.lists.search", target="aml-lists",
                         details={"results": len(entries), "filters": sorted(
                             k for k, v in (("text", text), ("chain", chain), ("category", category),
                                            ("source", source), ("kind", kind)) if v)})
        return entries

    def export(self, *, actor: str, fmt: str = "csv", active_only: bool = True) -> Iterator[bytes]:
        """The lists as CSV (English headers, re-importable) or JSON lines."""
        if fmt not in ("csv", "jsonl"):
            raise InvalidRequest("export format must be csv or jsonl", details={"field": "format"})
        self.store.audit(actor=actor, action="aml.lists.export", target="aml-lists", details={"format": fmt})
        entries = self.lists.iter_active(self.clock()) if active_only else _all(self.lists)
        if fmt == "csv":
            yield (",".join(EXPORT_COLUMNS) + "\n").encode()
            for entry in entries:
                yield (_csv_line([_export_value(entry, c) for c in EXPORT_COLUMNS]) + "\n").encode()
        else:
            for entry in entries:
                yield orjson.dumps({c: _export_value(entry, c) for c in ("id", *EXPORT_COLUMNS)}) + b"\n"

    def screen(self, chain: str, address: str) -> ScreeningResult:
        return self.screener.screen(chain, address)

    def screen_many(self, items: Sequence[tuple[str, str]], *, actor: str) -> list[dict[str, Any]]:
        """Screen a batch; a bad item gets its own error and does not fail the others."""
        if len(items) > MAX_BATCH_SCREEN:
            raise InvalidRequest(f"at most {MAX_BATCH_SCREEN} addresses per request", details={"field": "items"})
        out: list[dict[str, Any]] = []
        listed = 0
        for chain, address in items:
            try:
                result = self.screener.screen(chain, address)
            except (UnknownChain, InvalidAddress) as exc:
                out.append(exc.to_dict())
                continue
            listed += result.listed
            out.append(result.as_dict())
        self.store.audit(actor=actor, action="aml.screen", target="aml-screen",
                         details={"screened": len(items), "listed": listed})
        return out

    def screen_names(self, names: Sequence[str], *, actor: str, threshold: float = DEFAULT_THRESHOLD,
                     subject: str | None = None) -> list[NameHit]:
        if not names or len(names) > 10 or any(len(n) > 300 for n in names):
            raise InvalidRequest("give 1–10 names of at most 300 characters", details={"field": "names"})
        if not 0.5 <= threshold <= 1.0:
            raise InvalidRequest("threshold must be between 0.5 and 1.0", details={"field": "threshold"})
        hits = self.screener.screen_names(names, threshold=threshold)
        self.store.audit(actor=actor, action="aml.screen_names", target=subject or "aml-names",
                         details={"names": len(names), "hits": len(hits), "entry_ids": [h.entry.id for h in hits][:50]})
        return hits


EXPORT_COLUMNS: Final = ("kind", "chain", "address", "name", "aliases", "category", "source", "confidence",
                         "first_seen", "expires_at", "reference")


def _all(lists: ListStore) -> Iterator[ListEntry]:
    after = 0
    while True:
        page = lists.search(limit=10_000, after_id=after)
        if not page:
            return
        yield from page
        after = page[-1].id or after


def _export_value(entry: ListEntry, column: str) -> Any:
    value = getattr(entry, column)
    if column == "id":
        return value
    if column == "aliases":
        return ";".join(value)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.normalize())
    return str(value)


def _csv_line(cells: list[Any]) -> str:
    out = []
    for cell in cells:
        text = str(cell)
        if text[:1] in ("=", "+", "-", "@"):  # no spreadsheet formulas from list data (CSV injection)
            text = "'" + text
        if any(c in text for c in ',"\n\r'):
            text = '"' + text.replace('"', '""') + '"'
        out.append(text)
    return ",".join(out)


def _category(value: str) -> RiskCategory:
    try:
        return risk_category(value)
    except ValueError as exc:
        raise InvalidRequest(str(exc), details={"field": "category"}) from None


def cases_destinations(engine: Engine, *, category: RiskCategory, confidence: Decimal,
                       actor: str) -> tuple[list[ListEntry], list[LineError]]:
    """Crypto withdrawal destinations in the alerts of cases closed as fraud (bounded)."""
    query = (select(cases.c.id, events.c.payload, events.c.occurred_at_us)
             .select_from(cases.join(case_alerts, case_alerts.c.case_id == cases.c.id)
                          .join(alerts, alerts.c.id == case_alerts.c.alert_id)
                          .join(events, events.c.event_id == alerts.c.event_id))
             .where(cases.c.state == "closed", cases.c.disposition.in_(FRAUD_DISPOSITIONS),
                    alerts.c.event_type == "crypto_withdrawal")
             .order_by(cases.c.id).limit(MAX_CASE_ALERTS))
    create_case_tables(engine)
    entries: dict[tuple[str, str], ListEntry] = {}
    errors: list[LineError] = []
    with engine.connect() as conn:
        for case_id, payload, occurred_us in conn.execute(query):
            body = orjson.loads(payload)
            try:
                chain = normalise_chain(str(body.get("chain", "")))
                address = normalise_address(chain, str(body.get("address", "")))
            except MamoriError as exc:
                errors.append(LineError(int(case_id), f"case {case_id}: {exc.message}"))
                continue
            key = (chain, address)
            if key not in entries:
                entries[key] = ListEntry(kind=EntryKind.address, category=category, source=CASES_SOURCE, chain=chain,
                                         address=address, confidence=confidence, reference=f"case:{case_id}",
                                         first_seen=datetime.fromtimestamp(occurred_us / 1e6, UTC), added_by=actor)
    return list(entries.values()), errors

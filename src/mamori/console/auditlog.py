"""Reading the hash-chained audit log for internal audit: filter, page, verify, export (CSV, JSONL).

The log itself is written only by :meth:`mamori.adapters.sql.store.SqlStore.audit`; this module
never changes it. Verification recomputes the chain (:meth:`SqlStore.verify_audit_chain`) and names
the first broken record. Exports stream in bounded batches (keyset on ``seq``) so a log of millions
of records never sits in memory at once.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, select

from mamori.adapters.sql.schema import audit_log
from mamori.adapters.sql.store import SqlStore
from mamori.investigate.common import iso_jst
from mamori.kit.errors import InvalidRequest

EXPORT_BATCH = 5000
MAX_PAGE = 500
FIELDS = ("seq", "at_us", "actor", "action", "target", "details", "prev_hash", "hash")
_BROKEN = re.compile(r"record (\d+)")


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since_us: int | None = None
    until_us: int | None = None

    @classmethod
    def parse(cls, params: Any) -> AuditFilter:
        values: dict[str, Any] = {}
        for name in ("actor", "action", "target"):
            value = params.get(name) or None
            if value is not None and (len(value) > 256 or any(ord(c) < 0x20 for c in value)):
                raise InvalidRequest(f"{name}: at most 256 printable characters", details={"field": name})
            values[name] = value
        from mamori.investigate.common import parse_time

        values["since_us"] = parse_time(params.get("since") or None, "since")
        values["until_us"] = parse_time(params.get("until") or None, "until")
        return cls(**values)

    def conditions(self) -> list[Any]:
        c = audit_log.c
        out: list[Any] = []
        if self.actor:
            out.append(c.actor == self.actor)
        if self.action:
            out.append(c.action.startswith(self.action, autoescape=True))
        if self.target:
            out.append(c.target == self.target)
        if self.since_us is not None:
            out.append(c.at_us >= self.since_us)
        if self.until_us is not None:
            out.append(c.at_us < self.until_us)
        return out


def _row(r: Any) -> dict[str, Any]:
    return {"seq": int(r.seq), "at_us": int(r.at_us), "at": iso_jst(int(r.at_us)), "actor": r.actor,
            "action": r.action, "target": r.target, "details": orjson.loads(r.details), "prev_hash": r.prev_hash,
            "hash": r.hash}


def query(engine: Engine, flt: AuditFilter, *, limit: int = 100, before_seq: int | None = None) -> dict[str, Any]:
    """Newest first; ``next_before`` pages on."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}", details={"field": "limit"})
    cond = flt.conditions()
    if before_seq is not None:
        cond.append(audit_log.c.seq < before_seq)
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).where(*cond).order_by(audit_log.c.seq.desc()).limit(limit)).all()
    records = [_row(r) for r in rows]
    return {"records": records, "next_before": records[-1]["seq"] if len(records) == limit else None}


def verify(store: SqlStore) -> dict[str, Any]:
    """``{"ok": True, "records": n}`` or ``{"ok": False, "broken_seq": seq, "message": ...}``."""
    try:
        return {"ok": True, "records": store.verify_audit_chain()}
    except ValueError as exc:
        found = _BROKEN.search(str(exc))
        return {"ok": False, "broken_seq": int(found.group(1)) if found else None, "message": str(exc)}


def _batches(engine: Engine, flt: AuditFilter) -> Iterator[list[Any]]:
    after = 0
    while True:
        with engine.connect() as conn:
            rows = list(conn.execute(select(audit_log).where(*flt.conditions(), audit_log.c.seq > after)
                                     .order_by(audit_log.c.seq).limit(EXPORT_BATCH)).all())
        if not rows:
            return
        yield rows
        after = int(rows[-1].seq)
        if len(rows) < EXPORT_BATCH:
            return


def export_jsonl(engine: Engine, flt: AuditFilter) -> Iterator[bytes]:
    for rows in _batches(engine, flt):
        yield b"".join(orjson.dumps({k: getattr(r, k) for k in FIELDS}) + b"\n" for r in rows)


def export_csv(engine: Engine, flt: AuditFilter) -> Iterator[bytes]:
    """CSV (UTF-8 with BOM for spreadsheet programs); ``details`` is the canonical JSON that was hashed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FIELDS)
    yield ("\ufeff" + buffer.getvalue()).encode()
    for rows in _batches(engine, flt):
        buffer.seek(0)
        buffer.truncate()
        for r in rows:
            writer.writerow([_cell(getattr(r, k)) for k in FIELDS])
        yield buffer.getvalue().encode()


def _cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas (OWASP CSV injection): text starting with = + - @ gets a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value

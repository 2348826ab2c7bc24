"""Risk lists in SQL (SQLAlchemy Core, own ``MetaData``, created on the shared engine; SQLite and
PostgreSQL). Times are integer microseconds UTC like the rest of the store.

* ``aml_list_entries`` — one row per (address on a chain | entity name) and source. ``entry_key``
  makes an import idempotent: importing the same address from the same source again updates it.
  ``confidence_bp`` is the confidence in basis points (0–10000) so it stays exact on both databases.
* ``aml_list_batches`` — one row per import with the counts of added, updated and rejected lines and
  the first per-line errors.
* ``aml_list_state`` — one row whose ``version`` grows with every change, so a screening index in
  any process knows cheaply when to rebuild.

Audit records (who imported or removed what) are written by :class:`mamori.aml.screening.ScreeningService`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from mamori.adapters.sql.schema import AUTO_ID
from mamori.aml.model import EntryKind, ListEntry, RiskCategory
from mamori.aml.names import name_key

metadata = MetaData()
MAX_ERRORS_KEPT: Final = 200

aml_list_entries = Table(
    "aml_list_entries", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("entry_key", String(512), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),
    Column("chain", String(32), nullable=True),
    Column("address", String(128), nullable=True),
    Column("name", String(300), nullable=True),
    Column("name_key", String(300), nullable=True),
    Column("aliases", Text, nullable=False),
    Column("category", String(24), nullable=False),
    Column("source", String(128), nullable=False),
    Column("confidence_bp", Integer, nullable=False),
    Column("first_seen_us", BigInteger, nullable=True),
    Column("expires_at_us", BigInteger, nullable=True),
    Column("reference", String(300), nullable=True),
    Column("added_by", String(128), nullable=True),
    Column("batch_id", BigInteger, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)  # fmt: skip
Index("ix_aml_entries_address", aml_list_entries.c.chain, aml_list_entries.c.address)
Index("ix_aml_entries_name", aml_list_entries.c.name_key)
Index("ix_aml_entries_category", aml_list_entries.c.category)

aml_list_batches = Table(
    "aml_list_batches", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("source", String(128), nullable=False),
    Column("format", String(16), nullable=False),
    Column("filename", String(255), nullable=True),
    Column("added", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("errors", Text, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)  # fmt: skip

aml_list_state = Table(
    "aml_list_state", metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
)  # fmt: skip


def create_tables(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        if conn.execute(select(aml_list_state.c.id)).first() is None:
            conn.execute(insert(aml_list_state).values(id=1, version=0))


@dataclass(frozen=True, slots=True)
class LineError:
    """A line (or object) of an import that was rejected, and why."""

    line: int
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "message": self.message}


@dataclass(frozen=True, slots=True)
class ImportReport:
    batch_id: int
    source: str
    format: str
    added: int
    updated: int
    rejected: int
    errors: tuple[LineError, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {"batch_id": self.batch_id, "source": self.source, "format": self.format, "added": self.added,
                "updated": self.updated, "rejected": self.rejected, "errors": [e.as_dict() for e in self.errors]}


def entry_key(entry: ListEntry) -> str:
    if entry.kind is EntryKind.address:
        return f"address:{entry.chain}:{entry.address}:{entry.source}"
    return f"entity:{name_key(entry.name or '')}:{entry.source}"


def to_us(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1_000_000)


def from_us(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1_000_000, UTC)


def _row_values(entry: ListEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind.value, "chain": entry.chain, "address": entry.address, "name": entry.name,
        "name_key": name_key(entry.name) if entry.name else None,
        "aliases": orjson.dumps(list(entry.aliases)).decode(), "category": entry.category.value,
        "source": entry.source, "confidence_bp": int(entry.confidence * 10000),
        "first_seen_us": to_us(entry.first_seen), "expires_at_us": to_us(entry.expires_at),
        "reference": entry.reference, "added_by": entry.added_by,
    }


def row_to_entry(row: Any) -> ListEntry:
    return ListEntry(kind=EntryKind(row.kind), category=RiskCategory(row.category), source=row.source,
                     chain=row.chain, address=row.address, name=row.name, aliases=tuple(orjson.loads(row.aliases)),
                     confidence=Decimal(row.confidence_bp) / 10000, first_seen=from_us(row.first_seen_us),
                     expires_at=from_us(row.expires_at_us), reference=row.reference, added_by=row.added_by, id=row.id)


class ListStore:
    """The risk-list tables on one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(engine)

    def version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(aml_list_state.c.version).where(aml_list_state.c.id == 1)).scalar_one())

    @staticmethod
    def _bump(conn: Connection) -> None:
        conn.execute(update(aml_list_state).where(aml_list_state.c.id == 1)
                     .values(version=aml_list_state.c.version + 1))

    def upsert(self, entries: Sequence[ListEntry], *, source: str, fmt: str, actor: str, now_us: int,
               filename: str | None = None, errors: Sequence[LineError] = ()) -> ImportReport:
        """Add or update ``entries`` in one transaction and record the batch."""
        added = updated = 0
        with self.engine.begin() as conn:
            batch_id = int(conn.execute(insert(aml_list_batches).values(
                source=source, format=fmt, filename=filename, added=0, updated=0, rejected=len(errors),
                errors=orjson.dumps([e.as_dict() for e in errors[:MAX_ERRORS_KEPT]]).decode(), actor=actor,
                created_at_us=now_us)).inserted_primary_key[0])  # type: ignore[index]
            keys = {entry_key(e): e for e in entries}  # the last line wins within one file
            existing: dict[str, int] = {}
            key_list = list(keys)
            for start in range(0, len(key_list), 500):
                chunk = key_list[start:start + 500]
                for row in conn.execute(select(aml_list_entries.c.entry_key, aml_list_entries.c.id)
                                        .where(aml_list_entries.c.entry_key.in_(chunk))):
                    existing[row.entry_key] = row.id
            new_rows = []
            for key, entry in keys.items():
                values = _row_values(entry) | {"batch_id": batch_id, "updated_at_us": now_us}
                if key in existing:
                    conn.execute(update(aml_list_entries).where(aml_list_entries.c.id == existing[key]).values(values))
                    updated += 1
                else:
                    new_rows.append(values | {"entry_key": key, "created_at_us": now_us})
            for start in range(0, len(new_rows), 1000):
                conn.execute(insert(aml_list_entries), new_rows[start:start + 1000])
            added = len(new_rows)
            conn.execute(update(aml_list_batches).where(aml_list_batches.c.id == batch_id)
                         .values(added=added, updated=updated))
            self._bump(conn)
        return ImportReport(batch_id, source, fmt, added, updated, len(errors), tuple(errors[:MAX_ERRORS_KEPT]))

    def remove(self, entry_ids: Iterable[int]) -> list[ListEntry]:
        """Delete entries by id; returns the ones that existed (for the audit record)."""
        ids = sorted(set(entry_ids))
        with self.engine.begin() as conn:
            rows = conn.execute(select(aml_list_entries).where(aml_list_entries.c.id.in_(ids))).all()
            if rows:
                conn.execute(delete(aml_list_entries).where(aml_list_entries.c.id.in_([r.id for r in rows])))
                self._bump(conn)
        return [row_to_entry(r) for r in rows]

    def get(self, entry_id: int) -> ListEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(aml_list_entries).where(aml_list_entries.c.id == entry_id)).first()
        return None if row is None else row_to_entry(row)

    def iter_active(self, now_us: int, *, batch: int = 20_000) -> Iterator[ListEntry]:
        """Every entry not expired at ``now_us``, in id order (bounded memory: keyset pages)."""
        after = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(select(aml_list_entries).where(
                    aml_list_entries.c.id > after,
                    or_(aml_list_entries.c.expires_at_us.is_(None), aml_list_entries.c.expires_at_us > now_us),
                ).order_by(aml_list_entries.c.id).limit(batch)).all()
            if not rows:
                return
            for row in rows:
                yield row_to_entry(row)
            after = rows[-1].id

    def search(self, *, text: str | None = None, chain: str | None = None, category: str | None = None,
               source: str | None = None, kind: str | None = None, include_expired: bool = True,
               now_us: int | None = None, limit: int = 100, after_id: int = 0) -> list[ListEntry]:
        """Entries matching every given filter (``text``: part of an address, a name key or a reference)."""
        c = aml_list_entries.c
        query = select(aml_list_entries).where(c.id > after_id)
        if text:
            pattern = f"%{_escape_like(text)}%"
            key_pattern = f"%{_escape_like(name_key(text))}%"
            query = query.where(or_(c.address.like(pattern, escape="\\"), c.name_key.like(key_pattern, escape="\\"),
                                    c.reference.like(pattern, escape="\\"), c.name.like(pattern, escape="\\")))
        for column, value in ((c.chain, chain), (c.category, category), (c.source, source), (c.kind, kind)):
            if value is not None:
                query = query.where(column == value)
        if not include_expired and now_us is not None:
            query = query.where(or_(c.expires_at_us.is_(None), c.expires_at_us > now_us))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(c.id).limit(max(1, min(limit, 10_000)))).all()
        return [row_to_entry(r) for r in rows]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(aml_list_entries.c.category, func.count())
                                .group_by(aml_list_entries.c.category)).all()
        return {str(r[0]): int(r[1]) for r in rows}

    def batches(self, *, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(aml_list_batches).order_by(aml_list_batches.c.id.desc()).limit(limit)).all()
        return [{"batch_id": r.id, "source": r.source, "format": r.format, "filename": r.filename,
                 "added": r.added, "updated": r.updated, "rejected": r.rejected, "actor": r.actor,
                 "created_at_us": r.created_at_us, "errors": orjson.loads(r.errors)} for r in rows]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

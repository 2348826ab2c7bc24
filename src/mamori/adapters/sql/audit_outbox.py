"""The audit log's outbox: history rows written in the same transaction as the action they record,
appended to the hash-chained audit log (:meth:`SqlStore.audit`) afterwards.

Cases, four-eyes actions and suspicious transaction reports each keep such a table (a row per step,
``pending`` until it reached the audit log). An action therefore stands even when the audit append
fails at that moment, and the log still gets every step at least once: :func:`flush_audit_outbox`
runs after each action and from the services' background rounds. A crash between the append and the
mark repeats one record (with the same row id in its details).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from sqlalchemy import Column, RowMapping, Table, select, update

from mamori.adapters.sql.store import SqlStore

log = logging.getLogger("mamori.audit")


class AuditRecord(NamedTuple):
    actor: str
    action: str
    target: str
    details: dict[str, Any]


def flush_audit_outbox(store: SqlStore, table: Table, pending: Column[Any],
                       to_record: Callable[[RowMapping], AuditRecord], *, lock: threading.Lock,
                       what: str, limit: int = 1000) -> int:
    """Append up to ``limit`` pending rows of ``table`` (oldest first) to the audit log and mark them done;
    returns how many. Never raises: on a failure the rest stay pending for the next call."""
    done = 0
    ident = table.c.id
    with lock:
        try:
            with store.engine.connect() as conn:
                oldest = select(table).where(pending.is_(True)).order_by(ident).limit(limit)
                rows = conn.execute(oldest).mappings().all()
            for row in rows:
                store.audit(**to_record(row)._asdict())
                with store.engine.begin() as conn:
                    conn.execute(update(table).where(ident == row["id"]).values({pending.name: False}))
                done += 1
        except Exception:
            log.exception("could not append %s to the audit log; they stay queued", what)
    return done
